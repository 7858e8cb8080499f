/** Every operation the edge serves, gathered from the routes that describe them. */
import { z } from "zod";
import packageJson from "../../package.json" with { type: "json" };
import { adminCommandApi } from "../routes/admin-commands.ts";
import { adminInstallerApi } from "../routes/admin-installers.ts";
import { adminReleaseApi } from "../routes/admin-releases.ts";
import { adminApi } from "../routes/admin.ts";
import { authApi } from "../routes/auth.tsx";
import { dashboardApi } from "../routes/dashboard.tsx";
import { enrollApi } from "../routes/enroll.ts";
import { knownIssueApi } from "../routes/known-issues.ts";
import { nodeLiveApi } from "../routes/node-live.ts";
import { nodeReleaseApi } from "../routes/node-releases.ts";
import { nodeRetireApi } from "../routes/node-retire.ts";
import { nodeApi } from "../routes/nodes.ts";
import { supportApi } from "../routes/support.ts";
import { telemetryApi } from "../routes/telemetry.ts";
import { openApiDocument } from "./document.ts";
import type { Operation } from "./operation.ts";

/** The two routes app.ts serves itself. */
const appApi: Operation[] = [
  {
    method: "get",
    path: "/api/health",
    summary: "Liveness of the edge",
    auth: "none",
    responses: { 200: { description: "The edge answers.", schema: z.object({ ok: z.literal(true) }) } },
  },
  {
    method: "get",
    path: "/api/openapi.json",
    summary: "This document",
    auth: "none",
    responses: { 200: { description: "The OpenAPI 3.1 document of the edge's HTTP API." } },
  },
];

export const operations: readonly Operation[] = [
  ...appApi,
  ...enrollApi,
  ...telemetryApi,
  ...nodeLiveApi,
  ...nodeReleaseApi,
  ...nodeApi,
  ...adminApi,
  ...adminCommandApi,
  ...knownIssueApi,
  ...adminReleaseApi,
  ...adminInstallerApi,
  ...nodeRetireApi,
  ...supportApi,
  ...authApi,
  ...dashboardApi,
];

let document: Record<string, unknown> | undefined;

/** Built on first request and kept for the isolate's life: the schemas do not change at runtime. */
export function apiDocument(): Record<string, unknown> {
  document ??= openApiDocument(operations, packageJson.version);
  return document;
}
