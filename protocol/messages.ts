/**
 * The live channel between a node and its Durable Object: WebSocket frames
 * (JSON text) both ways, and the heartbeat that also travels over HTTP
 * (`POST /api/node/heartbeat`) when the socket cannot connect.
 */
import { z } from "zod";
import { VersionSchema } from "./telemetry.ts";

export { MAX_FRAME_BYTES } from "./limits.ts";
export const DEFAULT_HEARTBEAT_INTERVAL_SECONDS = 30;
/**
 * Between full heartbeats a node only says it is there: this exact text, answered with PONG_FRAME
 * by the Workers runtime itself (WebSocket auto-response), so the node's Durable Object is not
 * woken for a heartbeat that changes nothing. The runtime matches the text byte for byte.
 */
export const PING_FRAME = '{"type":"ping"}';
export const PONG_FRAME = '{"type":"pong"}';
/** A node that pings sends its full heartbeat at least this often (the dashboard's chart points). */
export const DEFAULT_FULL_HEARTBEAT_INTERVAL_SECONDS = 600;
/** Consecutive failed connects before the node sends its one-shot connection_degraded report. */
export const WS_FAILURE_THRESHOLD = 5;

/** The connection states this agent sends. The edge accepts others too (see InformationalWord). */
export const CONNECTION_STATES = ["connecting", "connected", "degraded", "disconnected"] as const;
export type KnownConnectionState = (typeof CONNECTION_STATES)[number];

/**
 * Protocol skew: a fleet always runs several agent versions at once, and the edge must not refuse
 * a message for what an older or newer agent may legitimately send differently. The rule for
 * every schema of the node → cloud direction (heartbeat here, frames below, telemetry in
 * telemetry.ts):
 *
 *  - Unknown fields are ignored (zod objects strip them; telemetry keeps them in `details`), so
 *    a newer agent can add fields without waiting for the edge.
 *  - Informational enum-like fields take any bounded word, stored as sent: a heartbeat's
 *    `connection_state` (a newer agent's "polling"; only "degraded" means something to the edge,
 *    and any other word just reads as not degraded) and `going_away.reason` (only shown).
 *  - Strict, because something depends on them: identity (`node_id`, command ids: a wrong one
 *    would act on another node or command), `version` (update, rollback and fix verification
 *    compare it), types and sizes of every field (what is stored and shown must be what it says,
 *    and bounded), and the fields that decide (telemetry `type`, which sets severity and triage;
 *    `command_ack.status`, which settles a command; `uptime`, which fix verification reads).
 *    A new value there needs the edge to learn it first, so it is refused with 400 naming it.
 */
export const InformationalWord = z
  .string()
  .regex(/^[a-z][a-z0-9_-]{0,31}$/, "must be a lowercase word of at most 32 characters (letters, digits, _ and -)");

/** The extended heartbeat payload. */
export const HeartbeatSchema = z.object({
  /** Strict: identity. */
  node_id: z.uuid(),
  /** Strict: updates, rollbacks and fix verification compare it. */
  version: VersionSchema,
  /** Milliseconds since the node program started. */
  uptime: z
    .number()
    .int()
    .nonnegative()
    .max(10 * 365 * 24 * 3600 * 1000),
  /** Informational: this agent sends CONNECTION_STATES; another version may send another word. */
  connection_state: InformationalWord,
  ws_failure_count: z.number().int().nonnegative().max(1_000_000),
  last_task_at: z.iso.datetime({ offset: true }).nullable(),
  memory_mb: z.number().nonnegative().max(1_000_000),
  error_count: z.number().int().nonnegative().max(1_000_000_000),
  /**
   * Sent once, with the first heartbeat after the node noticed it had not run for a while (the
   * computer slept, or the process was frozen): how long ago, in ms, it stopped running. The
   * cloud then shows the outage that silence caused as sleep, not as a problem. Older clouds
   * drop the unknown field.
   */
  asleep_for_ms: z
    .number()
    .int()
    .nonnegative()
    .max(366 * 24 * 3600 * 1000)
    .optional(),
});
export type Heartbeat = z.output<typeof HeartbeatSchema>;

/** Any JSON value (command payloads cross the RPC boundary, which needs serializable types). */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

export const COMMAND_TYPES = ["SOFTWARE_UPDATE", "CONFIG_CHANGE"] as const;
export type CommandType = (typeof COMMAND_TYPES)[number];

/** Node → cloud. */
export const NodeFrameSchema = z.discriminatedUnion("type", [
  HeartbeatSchema.extend({ type: z.literal("heartbeat") }),
  /** PING_FRAME, normally answered by the runtime; one that reaches the object (other spacing) is answered there. */
  z.object({ type: z.literal("ping") }),
  /** Said before a clean shutdown or the computer going to sleep: not an outage. */
  /** `reason` is informational: this agent says "sleep" or "shutdown". */
  z.object({ type: z.literal("going_away"), reason: InformationalWord }),
  z.object({
    type: z.literal("command_ack"),
    id: z.uuid(),
    /**
     * done: carried out; failed: tried and could not; rejected: this node version can't do it
     * (also a command type it does not know: detail says "unsupported command type …").
     */
    status: z.enum(["done", "failed", "rejected"]),
    detail: z.string().max(1000).optional(),
  }),
]);
export type NodeFrame = z.output<typeof NodeFrameSchema>;

export type CommandFrame = {
  type: "command";
  id: string;
  command: CommandType;
  payload: Record<string, Json>;
  expires_at: string;
};

/** Cloud → node. */
export type CloudFrame =
  /**
   * `commands`: how many command frames follow at once (absent from older clouds: read as 0).
   * `full_heartbeat_interval_s`: present when this cloud answers PING_FRAME. Such a node then
   * sends, every heartbeat_interval_s, its full heartbeat when what it says changed (version,
   * connection state, failure or error count, a sleep to report) or the last full one is this
   * old, and PING_FRAME otherwise. Without it (an older cloud), every beat is a full heartbeat.
   */
  | { type: "welcome"; node_id: string; heartbeat_interval_s: number; full_heartbeat_interval_s?: number; commands?: number }
  | { type: "heartbeat_ack"; at: string }
  /** The answer to PING_FRAME. */
  | { type: "pong" }
  | CommandFrame
  | { type: "error"; code: string; message: string };

/** "retired": uninstalled (POST /api/node/retire); its key no longer works and it never comes back. */
export const NODE_STATUSES = ["online", "offline", "asleep", "degraded", "retired"] as const;
export type NodeStatus = (typeof NODE_STATUSES)[number];
