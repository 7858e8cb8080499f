/**
 * Headers on every page the Worker renders: a Content-Security-Policy that allows no inline
 * script and nothing from another origin, no framing, no Referer sent to another site (a
 * sign-in link in a URL must not leak), and no caching of pages that show a person's data.
 */
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env.ts";

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join("; ");

export const pageHeaders = createMiddleware<AppEnv>(async (c, next) => {
  await next();
  if (!c.res.headers.get("content-type")?.startsWith("text/html")) return;
  // A page that set its own (stricter) policy keeps it: the setup link's page allows no script at all.
  const setDefault = (name: string, value: string): void => {
    if (!c.res.headers.has(name)) c.res.headers.set(name, value);
  };
  setDefault("content-security-policy", CONTENT_SECURITY_POLICY);
  setDefault("x-content-type-options", "nosniff");
  setDefault("x-frame-options", "DENY");
  // same-origin, not no-referrer: with no-referrer a browser sends `Origin: null` on its own forms, which the CSRF check refuses.
  setDefault("referrer-policy", "same-origin");
  setDefault("cache-control", "no-store");
});
