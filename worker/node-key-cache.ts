/**
 * Node keys verified recently in this isolate. A busy node sends many requests
 * a minute; without this each one costs a D1 read before any work is done.
 *
 * Entries live at most KEY_CACHE_TTL_MS, which bounds how long a key revoked in
 * D1 keeps working in an isolate that already saw it (no revocation exists yet;
 * when it does, this is the delay it must document or clear).
 */
export const KEY_CACHE_TTL_MS = 60_000;
const MAX_ENTRIES = 10_000;

type Verified = { nodeId: string; ownerId: string; until: number };

const verified = new Map<string, Verified>();

/** `secretHash` is the SHA-256 of the presented secret: the cache never holds a secret itself. */
export function cachedNode(nodeId: string, secretHash: string, now: number): Verified | null {
  const entry = verified.get(`${nodeId}:${secretHash}`);
  if (!entry) return null;
  if (entry.until > now) return entry;
  verified.delete(`${nodeId}:${secretHash}`);
  return null;
}

export function rememberNode(nodeId: string, ownerId: string, secretHash: string, now: number): void {
  if (verified.size >= MAX_ENTRIES) {
    // Maps iterate in insertion order: drop the oldest.
    const oldest = verified.keys().next().value;
    if (oldest !== undefined) verified.delete(oldest);
  }
  verified.set(`${nodeId}:${secretHash}`, { nodeId, ownerId, until: now + KEY_CACHE_TTL_MS });
}

/** A retired node's key stops working in this isolate at once (other isolates: within the TTL). */
export function forgetNode(nodeId: string): void {
  for (const key of verified.keys()) if (key.startsWith(`${nodeId}:`)) verified.delete(key);
}
