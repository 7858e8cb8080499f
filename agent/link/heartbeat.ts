/**
 * The extended heartbeat payload (protocol HeartbeatSchema), built from the node's
 * running counters. The same payload goes over the socket (type "heartbeat") and over the HTTP
 * fallback. memory_mb is the resident set size: a first draft divided the function
 * `process.memoryUsage.rss` itself, which would send NaN.
 */
import type { Heartbeat, KnownConnectionState } from "../../protocol/index.ts";

export type ConnectionState = KnownConnectionState;

/**
 * Counters that outlive a connection. error_count counts failures the program caught and
 * survived (a failed upload, a socket that broke or went silent, a frame the cloud refused, a
 * command that failed); failed connects are not in it, they are ws_failure_count.
 */
export type NodeStats = {
  startedAt: number;
  errorCount: number;
  /** The node runs no tasks yet; stays null until it does. */
  lastTaskAt: string | null;
};

export function newStats(startedAt: number): NodeStats {
  return { startedAt, errorCount: 0, lastTaskAt: null };
}

export type HeartbeatInput = {
  nodeId: string;
  version: string;
  stats: NodeStats;
  now: number;
  state: ConnectionState;
  wsFailureCount: number;
  rssBytes: number;
};

export function buildHeartbeat(input: HeartbeatInput): Heartbeat {
  return {
    node_id: input.nodeId,
    version: input.version,
    uptime: Math.max(0, Math.round(input.now - input.stats.startedAt)),
    connection_state: input.state,
    ws_failure_count: input.wsFailureCount,
    last_task_at: input.stats.lastTaskAt,
    memory_mb: Math.round(input.rssBytes / 1024 / 1024),
    error_count: input.stats.errorCount,
  };
}
