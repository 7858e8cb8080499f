/**
 * Staged rollout: a node gets a release when a stable hash of (node id,
 * version) falls under the release's percentage. Stable, so raising 10 % to
 * 50 % keeps the first 10 % in; per version, so the same nodes are not always
 * the guinea pigs.
 */
export async function inRollout(nodeId: string, version: string, percent: number): Promise<boolean> {
  if (percent >= 100) return true;
  if (percent <= 0) return false;
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`${nodeId}:${version}`)));
  const bucket = (((digest[0]! << 24) | (digest[1]! << 16) | (digest[2]! << 8) | digest[3]!) >>> 0) / 2 ** 32;
  return bucket * 100 < percent;
}
