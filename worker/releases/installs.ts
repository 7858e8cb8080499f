/**
 * Installs are what rollbacks are measured against (the auto-halt in triage):
 * a node's `update_progress` report of stage "installed" counts one install of
 * its version. The caller counts a report once, when it is first stored.
 */
import type { TelemetryEvent } from "../../protocol/telemetry.ts";
import type { Database } from "../db/client.ts";
import { countInstall } from "../db/releases.ts";

export async function countReportedInstall(db: Database, event: TelemetryEvent): Promise<void> {
  const installed = event.type === "update_progress" && event.details?.stage === "installed" ? event.details.version : null;
  if (typeof installed === "string") await countInstall(db, installed);
}
