/**
 * Which release a node should run: the newest active, unexpired release of
 * its channel whose rollout includes the node — optionally only one at least
 * as new as a fix. Shaped as the SignedRelease nodes verify.
 */
import type { SignedRelease } from "../../protocol/release.ts";
import { compareVersions } from "../../protocol/version.ts";
import type { Database } from "../db/client.ts";
import { activeReleases, type Release } from "../db/releases.ts";
import { inRollout } from "./rollout.ts";

export async function releaseFor(
  db: Database,
  nodeId: string,
  options: { channel?: string; atLeast?: string; now?: number } = {},
): Promise<Release | null> {
  const now = options.now ?? Date.now();
  for (const release of await activeReleases(db, options.channel ?? "stable")) {
    if (release.expiresAt.getTime() <= now) continue;
    if (options.atLeast && compareVersions(release.version, options.atLeast) < 0) return null;
    if (await inRollout(nodeId, release.version, release.rolloutPercent)) return release;
  }
  return null;
}

export function downloadPath(version: string): string {
  return `/api/node/releases/${version}/bundle`;
}

export function signedRelease(release: Release): SignedRelease {
  return { manifest: release.manifest, signature: release.signature, key_id: release.keyId, download_path: downloadPath(release.version) };
}
