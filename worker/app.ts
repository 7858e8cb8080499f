/**
 * The Hono app: middleware, the routes mounted under /api, and the one place
 * errors become responses. Route logic lives in routes/, each file with the
 * description of its operations (served as OpenAPI at /api/openapi.json).
 */
import { type Context, Hono } from "hono";
import { MessagePage } from "../dashboard/views/sign-in.tsx";
import { pageHeaders } from "./dashboard/headers.ts";
import type { AppEnv } from "./env.ts";
import { ApiError } from "./http/errors.ts";
import { apiDocument } from "./openapi/api.ts";
import { requestLog } from "./request-log.ts";
import { sameOriginOnly } from "./same-origin.ts";
import { adminCommandRoutes } from "./routes/admin-commands.ts";
import { adminInstallerRoutes } from "./routes/admin-installers.ts";
import { adminReleaseRoutes } from "./routes/admin-releases.ts";
import { adminRoutes } from "./routes/admin.ts";
import { authRoutes } from "./routes/auth.tsx";
import { dashboardRoutes } from "./routes/dashboard.tsx";
import { enrollRoutes } from "./routes/enroll.ts";
import { knownIssueRoutes } from "./routes/known-issues.ts";
import { nodeLiveRoutes } from "./routes/node-live.ts";
import { nodeRetireRoutes } from "./routes/node-retire.ts";
import { nodeReleaseRoutes } from "./routes/node-releases.ts";
import { nodeRoutes } from "./routes/nodes.ts";
import { setupRoutes } from "./routes/setup.ts";
import { supportRoutes } from "./routes/support.ts";
import { telemetryRoutes } from "./routes/telemetry.ts";

export const app = new Hono<AppEnv>()
  .use(requestLog)
  .use(sameOriginOnly)
  .use(pageHeaders)
  .get("/api/health", (c) => c.json({ ok: true }))
  .get("/api/openapi.json", (c) => c.json(apiDocument()))
  .route("/api/admin/nodes", adminCommandRoutes)
  .route("/api/admin/known-issues", knownIssueRoutes)
  .route("/api/admin/releases", adminReleaseRoutes)
  .route("/api/admin/installers", adminInstallerRoutes)
  .route("/api/admin", adminRoutes)
  .route("/api/enroll", enrollRoutes)
  .route("/api/node/telemetry", telemetryRoutes)
  .route("/api/node", nodeLiveRoutes)
  .route("/api/node", nodeReleaseRoutes)
  .route("/api/node", nodeRetireRoutes)
  .route("/api/nodes", nodeRoutes)
  .route("/api/support", supportRoutes)
  .route("/setup", setupRoutes)
  .route("/auth", authRoutes)
  .route("/", dashboardRoutes)
  .notFound((c) => refusal(c.req.path, new ApiError(404, "not_found", `No route for ${c.req.method} ${c.req.path}.`), c))
  .onError((error, c) => {
    if (error instanceof ApiError) return refusal(c.req.path, error, c);
    console.error(JSON.stringify({ msg: "unhandled error", path: c.req.path, error: String(error), stack: (error as Error).stack }));
    return c.json({ error: { code: "internal_error", message: "Something went wrong on our side; retry later." } }, 500);
  });

/** The API refuses with the shared JSON body; a dashboard page with a page that says the same. */
function refusal(path: string, error: ApiError, c: Context<AppEnv>): Response | Promise<Response> {
  if (path === "/api" || path.startsWith("/api/")) return c.json(error.toBody(), error.status, error.headers);
  const page = MessagePage({ title: "That did not work", text: error.message, link: { href: "/", label: "Back to the start" } });
  for (const [name, value] of Object.entries(error.headers)) c.header(name, value);
  return c.html(page, error.status);
}
