/**
 * Triage's "waiting for a release" decisions, carried out when a release at
 * least as new as their fix is published (or resumed, or its rollout widened):
 * each waiting node in the rollout gets the update, once.
 */
import { compareVersions } from "../../protocol/version.ts";
import { markUpdateSent, type Release, waitingForRelease } from "../db/releases.ts";
import type { Env } from "../env.ts";
import { fleetDatabase } from "../db/shards.ts";
import { inRollout } from "./rollout.ts";
import { pushRelease } from "./push.ts";

/** Per request; the rest is picked up by the next publish/resume/rollout call or by triage itself. */
const BATCH = 500;

export async function carryOutWaitingDecisions(env: Env, release: Release): Promise<number> {
  if (release.status !== "active" || release.expiresAt.getTime() <= Date.now()) return 0;
  const d1 = fleetDatabase(env);
  let pushed = 0;
  for (const waiting of await waitingForRelease(d1, BATCH)) {
    if (compareVersions(release.version, waiting.fixVersion) < 0) continue;
    if (!(await inRollout(waiting.nodeId, release.version, release.rolloutPercent))) continue;
    const commandId = await pushRelease(env, waiting, release);
    await markUpdateSent(d1, waiting.id, waiting.groupId, commandId);
    pushed++;
  }
  return pushed;
}
