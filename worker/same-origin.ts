/**
 * CSRF protection for every state-changing request: a browser says where a request comes from
 * (Sec-Fetch-Site, and Origin on every POST), and anything but this origin is refused with 403
 * before a handler runs, whatever the content type. Requests that carry neither header are not
 * from a browser (nodes, curl, scripts with a bearer token) and cannot ride on a cookie the
 * user's browser holds, so they pass to their own authentication.
 */
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "./env.ts";
import { ApiError } from "./http/errors.ts";

const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

export function crossOriginReason(method: string, url: string, headers: { get(name: string): string | null }): string | null {
  if (SAFE.has(method)) return null;
  const site = headers.get("sec-fetch-site");
  if (site !== null && site !== "same-origin") return `Sec-Fetch-Site is ${JSON.stringify(site.slice(0, 40))}`;
  const origin = headers.get("origin");
  if (origin !== null && origin !== new URL(url).origin) return `Origin ${JSON.stringify(origin.slice(0, 200))} is not this site`;
  return null;
}

export const sameOriginOnly = createMiddleware<AppEnv>(async (c, next) => {
  const reason = crossOriginReason(c.req.method, c.req.url, c.req.raw.headers);
  if (reason)
    throw new ApiError(403, "cross_origin_refused", `A request that changes something must come from this site's own pages (${reason}).`);
  await next();
});
