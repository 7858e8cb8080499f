/**
 * One structured JSON line per request (Workers Logs indexes JSON fields):
 * route pattern, node id when known, status and latency.
 */
import { createMiddleware } from "hono/factory";
import { routePath } from "hono/route";
import type { AppEnv } from "./env.ts";

export const requestLog = createMiddleware<AppEnv>(async (c, next) => {
  const started = Date.now();
  await next();
  console.log(
    JSON.stringify({
      msg: "request",
      method: c.req.method,
      route: routePath(c, -1),
      // A sign-in link's token is a secret until it is spent: never logged.
      path: c.req.path.startsWith("/auth/link/") ? "/auth/link/…" : c.req.path,
      status: c.res.status,
      node_id: c.get("nodeId") ?? null,
      owner_id: c.get("ownerId") ?? null,
      latency_ms: Date.now() - started,
    }),
  );
});
