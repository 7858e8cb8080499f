/**
 * What a node's Durable Object writes to the log. Workers Logs bills per line and the automatic
 * line per invocation is off (wrangler.toml), so a steady node costs about one line an hour:
 * a status change (online, offline, asleep, a new version) is always logged; a routine heartbeat
 * only one time in HEARTBEAT_LOG_ONE_IN, at random, as a sign of life.
 */
import type { Heartbeat, NodeStatus } from "../../protocol/messages.ts";

/** True for one call in `oneIn` on average; never when oneIn is 0. */
export function sampled(oneIn: number, random: () => number = Math.random): boolean {
  return oneIn > 0 && random() * oneIn < 1;
}

/** A heartbeat on the socket (one over HTTP is logged already, as its request). */
export function logHeartbeat(beat: Heartbeat, oneIn: number): void {
  if (!sampled(oneIn)) return;
  console.log(
    JSON.stringify({
      msg: "heartbeat (sampled)",
      one_in: oneIn,
      node_id: beat.node_id,
      version: beat.version,
      memory_mb: beat.memory_mb,
      error_count: beat.error_count,
    }),
  );
}

export type StatusChange = {
  nodeId: string;
  status: NodeStatus;
  previousStatus: NodeStatus | null;
  version: string | null;
  events: number;
};

export function logStatusChange(change: StatusChange): void {
  console.log(
    JSON.stringify({
      msg: "node status",
      node_id: change.nodeId,
      status: change.status,
      previous_status: change.previousStatus,
      version: change.version,
      events: change.events,
    }),
  );
}
