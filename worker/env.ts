/**
 * The Worker's bindings. Everything wrangler.toml declares (bindings, [vars])
 * and the required secrets come from `wrangler types` in
 * worker-configuration.d.ts (`npm run types:env` after changing wrangler.toml;
 * `npm test` fails while it is stale). Declared here by hand: what the config
 * cannot say.
 */
import type { QueueMessage } from "./queue.ts";

export interface Env extends Omit<GeneratedEnv, "TRIAGE_QUEUE"> {
  /** Critical telemetry for triage, and emails to send (wrangler types only knows it as a Queue of anything). */
  TRIAGE_QUEUE: Queue<QueueMessage>;

  // ── Optional, not in wrangler.toml: unset unless set as a secret or with `--var` ──
  /** HMAC-SHA256 key for the escalation webhook's signature header (a secret). */
  ESCALATION_WEBHOOK_SECRET?: string;
  /** Silence after which a node is offline; default 3 heartbeat intervals + 5 s. */
  OFFLINE_GRACE_SECONDS?: string;
  /** A node that pings (instead of heartbeating every interval) sends its full heartbeat at least this often; default 600. */
  FULL_HEARTBEAT_INTERVAL_SECONDS?: string;
  /** How often a node's open socket is looked at for silence; default 1200; 0: at the grace's end, like a closed one. */
  SILENCE_CHECK_SECONDS?: string;
  /** At most one node_offline event per node per this window; default 600. */
  FLAP_WINDOW_SECONDS?: string;
  /** One chart sample per node per this many seconds; default 300. Shortened only to measure what sampling costs (npm run bench). */
  HISTORY_SLOT_SECONDS?: string;
  /** A critical report with no triage receipt this long is queued again by the 5-minute cron; default 120. Shortened by the soak. */
  TRIAGE_REQUEUE_AFTER_SECONDS?: string;
  /** One routine heartbeat in this many is logged, at random; default 120 (about one line per node-hour); 0: none. */
  HEARTBEAT_LOG_ONE_IN?: string;
}

/**
 * What middleware may leave for the request log: any of it, or none. A handler
 * sees its middleware's own variables as set (the types below), so it needs
 * no non-null assertions.
 */
export type Variables = Partial<NodeVariables & ViewerVariables> & { ownerId?: string };

/** Left by requireNode: the node whose key was verified, and its owner. */
export type NodeVariables = { nodeId: string; ownerId: string };
/** Left by requireViewer and requireAdmin: who is reading, IT Support (admin) or one owner. */
export type ViewerVariables = { viewer: Viewer };

export type Viewer = { kind: "admin" } | { kind: "owner"; ownerId: string };

export type AppEnv = { Bindings: Env; Variables: Variables };
