/**
 * The Worker's bindings, as declared in wrangler.toml (plus secrets from
 * `.dev.vars` locally / `wrangler secret put` in production).
 */
import type { NodeSession } from "./node-session/node-session.ts";
import type { TriageMessage } from "./triage/message.ts";

export interface Env {
  // ── Bindings ──
  /** Owners, nodes, enrollment codes, telemetry, known issues. */
  DB: D1Database;
  /** Critical telemetry, for the triage consumer. */
  TRIAGE_QUEUE: Queue<TriageMessage>;
  /** Per-node request budget (keyed on node id). */
  NODE_RATE_LIMIT: RateLimit;
  /** Release bundles (`bundles/<version>/buhdi-node.mjs`). */
  RELEASES: R2Bucket;
  /** One NodeSession per node (by name = node id): socket, liveness, commands. */
  NODE_SESSION: DurableObjectNamespace<NodeSession>;

  // ── Secrets ──
  /** Bearer token for the admin API and IT Support; generated into .dev.vars by `npm start`. */
  ADMIN_TOKEN: string;

  // ── Variables ──
  /** Lifetime of an enrollment code in seconds (default 7 days). */
  ENROLLMENT_TTL_SECONDS?: string;
  /** How often nodes heartbeat (told to them on connect); default 30. */
  HEARTBEAT_INTERVAL_SECONDS?: string;
  /** Silence after which a node is offline; default 3 intervals + 5 s. */
  OFFLINE_GRACE_SECONDS?: string;
  /** At most one node_offline event per node per this window; default 600. */
  FLAP_WINDOW_SECONDS?: string;
  /** At most one escalation per crash group per this period; default 3600. */
  ESCALATION_PERIOD_SECONDS?: string;
  /** Where escalations are POSTed (unset: they stay pending in the support API). */
  ESCALATION_WEBHOOK_URL?: string;
  /** HMAC-SHA256 key for the escalation webhook's signature header (a secret). */
  ESCALATION_WEBHOOK_SECRET?: string;
  /** JSON array of {key_id, public_key}: the release signing keys the edge accepts (agents pin the same). */
  RELEASE_PUBLIC_KEYS?: string;
  /** A release is halted for everyone after this many rollbacks (default 2)… */
  ROLLBACK_HALT_COUNT?: string;
  /** …or when rollbacks reach this percentage of its installs (default 5). */
  ROLLBACK_HALT_PERCENT?: string;
  /** A fix is verified once the node runs it healthy this long; default 60. */
  VERIFY_HEALTHY_SECONDS?: string;
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
