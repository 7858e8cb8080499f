/**
 * A node's status as the views show it: the Durable Object's live status, except that D1's
 * registry has the last word on retirement. POST /api/node/retire writes D1 first, then tells the
 * Durable Object; if that second call failed, the node must still show as retired (and D1 keeps
 * "retired" whatever the object reports later: db/node-status.ts).
 */
import type { LiveStatus } from "./node-session.ts";

export function withRegistryStatus(live: LiveStatus, node: { status: string; statusChangedAt: Date | null }): LiveStatus {
  if (node.status !== "retired" || live.status === "retired") return live;
  return { ...live, status: "retired", connected: false, retired_at: node.statusChangedAt?.toISOString() ?? null };
}
