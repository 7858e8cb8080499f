/**
 * The D1 schema (Drizzle). `npm run db:generate` turns changes here into SQL
 * under migrations/; never edit a generated migration by hand.
 *
 * Times are integer milliseconds since the epoch: they sort exactly, which the
 * telemetry cursor relies on, and cost 8 bytes.
 */
import { desc, sql } from "drizzle-orm";
import { TELEMETRY_TYPES } from "../../protocol/telemetry.ts";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

const createdAt = () => integer("created_at", { mode: "timestamp_ms" }).notNull().default(sql`(unixepoch('subsec') * 1000)`);

/** A customer (e.g. Nana's family) who owns nodes and reads the dashboard with a token. */
export const owners = sqliteTable("owners", {
  id: text("id").primaryKey(),
  email: text("email").notNull().unique(),
  name: text("name").notNull(),
  /** SHA-256 (hex) of the dashboard token's secret; the token itself is shown once. */
  dashboardTokenHash: text("dashboard_token_hash").notNull(),
  createdAt: createdAt(),
});

/** The node registry: one row per enrolled computer. */
export const nodes = sqliteTable(
  "nodes",
  {
    id: text("id").primaryKey(),
    ownerId: text("owner_id")
      .notNull()
      .references(() => owners.id),
    name: text("name").notNull(),
    /** SHA-256 (hex) of the node key's secret; compared in constant time. */
    keyHash: text("key_hash").notNull(),
    os: text("os").notNull(),
    arch: text("arch").notNull(),
    version: text("version").notNull(),
    createdAt: createdAt(),
    /** Refreshed on status changes and at the hourly rollup, not per heartbeat (the DO has the live value). */
    lastSeenAt: integer("last_seen_at", { mode: "timestamp_ms" }),
    /**
     * As the node's Durable Object last reported it; see protocol NODE_STATUSES. "retired" is set
     * by POST /api/node/retire (uninstalled; status_changed_at is then when) and never changes again.
     */
    status: text("status", { enum: ["online", "offline", "asleep", "degraded", "retired"] })
      .notNull()
      .default("offline"),
    statusChangedAt: integer("status_changed_at", { mode: "timestamp_ms" }),
  },
  (t) => [index("idx_nodes_owner").on(t.ownerId)],
);

/** One-time codes an owner hands to a new node. Stored hashed: a code is a credential until used. */
export const enrollmentCodes = sqliteTable("enrollment_codes", {
  codeHash: text("code_hash").primaryKey(),
  ownerId: text("owner_id")
    .notNull()
    .references(() => owners.id),
  nodeName: text("node_name").notNull(),
  expiresAt: integer("expires_at", { mode: "timestamp_ms" }).notNull(),
  usedAt: integer("used_at", { mode: "timestamp_ms" }),
  /** The node this code enrolled; set in the same batch that creates the node. */
  nodeId: text("node_id"),
  /** The admin's Idempotency-Key, if the request carried one: the same key again creates nothing. */
  requestKey: text("request_key").unique(),
  createdAt: createdAt(),
});

/** Everything nodes report. `payload` is the validated report as JSON text. */
export const nodeTelemetry = sqliteTable(
  "node_telemetry",
  {
    id: text("id").primaryKey(),
    nodeId: text("node_id")
      .notNull()
      .references(() => nodes.id),
    /** The user id: the owner of the node when the event arrived. */
    ownerId: text("owner_id")
      .notNull()
      .references(() => owners.id),
    /** The node's own id for this report; a retry carries the same one. */
    eventId: text("event_id").notNull(),
    /** What nodes send, plus what the cloud records about them (node_offline, node_back_online). */
    type: text("type", {
      enum: [...TELEMETRY_TYPES, "node_offline", "node_back_online"],
    }).notNull(),
    payload: text("payload").notNull(),
    nodeVersion: text("node_version"),
    severity: text("severity", { enum: ["info", "warning", "critical"] })
      .notNull()
      .default("info"),
    resolved: integer("resolved", { mode: "boolean" }).notNull().default(false),
    createdAt: createdAt(),
    /**
     * Set when the raw event moved to R2 (older than TELEMETRY_RETENTION_DAYS, see
     * worker/archive/): payload then holds its summary, and the full event is one line of
     * telemetry/<node_id>/<UTC day>.ndjson in the ARCHIVE bucket.
     */
    archivedAt: integer("archived_at", { mode: "timestamp_ms" }),
  },
  (t) => [
    uniqueIndex("uq_telemetry_node_event").on(t.nodeId, t.eventId),
    // The archiver's scan: the oldest rows not archived yet.
    index("idx_telemetry_unarchived").on(t.createdAt).where(sql`${t.archivedAt} IS NULL`),
    index("idx_telemetry_node").on(t.nodeId, desc(t.createdAt)),
    // The dashboard's "all my nodes" view pages through one owner's events.
    index("idx_telemetry_owner").on(t.ownerId, desc(t.createdAt)),
    index("idx_telemetry_unresolved").on(t.resolved, t.severity).where(sql`${t.resolved} = 0`),
  ],
);

/** Known problems and their fixes, matched against crash content by triage. */
export const nodeKnownIssues = sqliteTable("node_known_issues", {
  id: text("id").primaryKey(),
  /** Case-insensitive regular expression (a plain keyword is one too). */
  pattern: text("pattern").notNull(),
  description: text("description"),
  fixType: text("fix_type", { enum: ["update", "config_change", "manual", "self_healing"] }),
  fixVersion: text("fix_version"),
  /** JSON text: what to change, for config_change fixes. */
  fixInstructions: text("fix_instructions"),
  autoResolve: integer("auto_resolve", { mode: "boolean" }).notNull().default(false),
  /** Disabled issues are kept (history, hit counts) but no longer matched. */
  enabled: integer("enabled", { mode: "boolean" }).notNull().default(true),
  hitCount: integer("hit_count").notNull().default(0),
  lastHitAt: integer("last_hit_at", { mode: "timestamp_ms" }),
  createdAt: createdAt(),
  updatedAt: integer("updated_at", { mode: "timestamp_ms" }),
});

export const CRASH_GROUP_STATES = ["open", "waiting_for_release", "fixing", "resolved", "regressed", "ticketed", "recorded"] as const;

/** Crash reports with the same fingerprint (error type, message and top frames, variable parts removed). */
export const crashGroups = sqliteTable(
  "crash_groups",
  {
    id: text("id").primaryKey(),
    fingerprint: text("fingerprint").notNull().unique(),
    title: text("title").notNull(),
    firstSeenAt: integer("first_seen_at", { mode: "timestamp_ms" }).notNull(),
    lastSeenAt: integer("last_seen_at", { mode: "timestamp_ms" }).notNull(),
    reportCount: integer("report_count").notNull().default(0),
    nodeCount: integer("node_count").notNull().default(0),
    /** JSON array of the versions seen crashing this way, sorted. */
    versions: text("versions").notNull().default("[]"),
    latestTelemetryId: text("latest_telemetry_id"),
    /** JSON array: the latest report's lines. */
    latestSample: text("latest_sample").notNull().default("[]"),
    knownIssueId: text("known_issue_id").references(() => nodeKnownIssues.id),
    state: text("state", { enum: CRASH_GROUP_STATES }).notNull().default("open"),
    lastEscalatedAt: integer("last_escalated_at", { mode: "timestamp_ms" }),
    /** report_count when the last escalation went out: the next one carries the difference. */
    reportsAtLastEscalation: integer("reports_at_last_escalation").notNull().default(0),
    createdAt: createdAt(),
  },
  (t) => [index("idx_crash_groups_last_seen").on(desc(t.lastSeenAt))],
);

/** Which nodes crashed in a group (for the affected-node count), and on which version last. */
export const crashGroupNodes = sqliteTable(
  "crash_group_nodes",
  {
    groupId: text("group_id")
      .notNull()
      .references(() => crashGroups.id),
    nodeId: text("node_id")
      .notNull()
      .references(() => nodes.id),
    version: text("version"),
    lastSeenAt: integer("last_seen_at", { mode: "timestamp_ms" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.groupId, t.nodeId] })],
);

/** One per telemetry event triaged: the consumer's idempotency record (written with its effects). */
export const triageReceipts = sqliteTable("triage_receipts", {
  telemetryId: text("telemetry_id")
    .primaryKey()
    .references(() => nodeTelemetry.id),
  groupId: text("group_id"),
  processedAt: integer("processed_at", { mode: "timestamp_ms" }).notNull(),
});

export const RESOLUTION_ACTIONS = [
  "software_update",
  "config_change",
  "self_healing",
  "ticket",
  "waiting_for_release",
  "regression",
] as const;
export const RESOLUTION_STATES = ["pending", "verified", "regressed", "recorded", "waiting_for_release", "open"] as const;

/** Every triage decision, for the record and for verification of fixes. */
export const resolutions = sqliteTable(
  "resolutions",
  {
    id: text("id").primaryKey(),
    telemetryId: text("telemetry_id")
      .notNull()
      .references(() => nodeTelemetry.id),
    groupId: text("group_id")
      .notNull()
      .references(() => crashGroups.id),
    nodeId: text("node_id")
      .notNull()
      .references(() => nodes.id),
    knownIssueId: text("known_issue_id").references(() => nodeKnownIssues.id),
    action: text("action", { enum: RESOLUTION_ACTIONS }).notNull(),
    fromVersion: text("from_version"),
    fixVersion: text("fix_version"),
    state: text("state", { enum: RESOLUTION_STATES }).notNull(),
    /** Mark the telemetry resolved once verified (the known issue's auto_resolve). */
    autoResolve: integer("auto_resolve", { mode: "boolean" }).notNull().default(false),
    /** The command sent to the node (its id in the node's Durable Object), if any. */
    commandId: text("command_id"),
    /** JSON text of what the node's Durable Object must be told (a command, a fix to verify); null once told. */
    nodeOutbox: text("node_outbox"),
    createdAt: createdAt(),
    verifiedAt: integer("verified_at", { mode: "timestamp_ms" }),
  },
  (t) => [
    index("idx_resolutions_node").on(t.nodeId, desc(t.createdAt)),
    index("idx_resolutions_created").on(desc(t.createdAt)),
    index("idx_resolutions_outbox").on(t.nodeOutbox).where(sql`${t.nodeOutbox} IS NOT NULL`),
  ],
);

/** One support ticket per crash group; later reports add to it. */
export const tickets = sqliteTable(
  "tickets",
  {
    id: text("id").primaryKey(),
    groupId: text("group_id")
      .notNull()
      .unique()
      .references(() => crashGroups.id),
    title: text("title").notNull(),
    /** JSON array, e.g. ["engineering-review"]. */
    tags: text("tags").notNull().default("[]"),
    status: text("status", { enum: ["open", "closed"] })
      .notNull()
      .default("open"),
    reportCount: integer("report_count").notNull().default(0),
    createdAt: createdAt(),
    updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
  },
  (t) => [index("idx_tickets_created").on(desc(t.createdAt))],
);

/** Messages for IT Support Buhdi, pending until acknowledged (bridge_comms). */
export const bridgeComms = sqliteTable(
  "bridge_comms",
  {
    id: text("id").primaryKey(),
    telemetryId: text("telemetry_id")
      .notNull()
      .unique()
      .references(() => nodeTelemetry.id),
    from: text("from_name").notNull(),
    class: text("class").notNull(),
    msg: text("msg").notNull(),
    status: text("status", { enum: ["pending", "acked"] })
      .notNull()
      .default("pending"),
    createdAt: createdAt(),
    ackedAt: integer("acked_at", { mode: "timestamp_ms" }),
  },
  (t) => [index("idx_bridge_status").on(t.status, desc(t.createdAt))],
);

export const ESCALATION_REASONS = ["unknown_crash", "regression", "waiting_for_release", "release_halted"] as const;
export type EscalationReason = (typeof ESCALATION_REASONS)[number];

/** Escalations to a human through the outbound webhook; delivered with retries. */
export const escalations = sqliteTable(
  "escalations",
  {
    id: text("id").primaryKey(),
    groupId: text("group_id")
      .notNull()
      .references(() => crashGroups.id),
    /** The triage message that raised it (its telemetry id): delivery is retried through it. */
    telemetryId: text("telemetry_id").notNull(),
    reason: text("reason", { enum: ESCALATION_REASONS }).notNull(),
    reportsSinceLast: integer("reports_since_last").notNull(),
    /** The exact JSON body that is signed and sent. */
    body: text("body").notNull(),
    status: text("status", { enum: ["pending", "delivered"] })
      .notNull()
      .default("pending"),
    attempts: integer("attempts").notNull().default(0),
    lastError: text("last_error"),
    createdAt: createdAt(),
    deliveredAt: integer("delivered_at", { mode: "timestamp_ms" }),
  },
  (t) => [index("idx_escalations_telemetry").on(t.telemetryId), index("idx_escalations_created").on(desc(t.createdAt))],
);

/** Signed releases of the agent; bundles live in R2 under `r2Key`. */
export const releases = sqliteTable(
  "releases",
  {
    version: text("version").primaryKey(),
    channel: text("channel", { enum: ["stable", "beta"] }).notNull(),
    /** The manifest's exact JSON text, as signed. */
    manifest: text("manifest").notNull(),
    signature: text("signature").notNull(),
    keyId: text("key_id").notNull(),
    sha256: text("sha256").notNull(),
    size: integer("size").notNull(),
    r2Key: text("r2_key").notNull(),
    expiresAt: integer("expires_at", { mode: "timestamp_ms" }).notNull(),
    /** Nodes whose stable hash of (node id, version) falls under this get the release. */
    rolloutPercent: integer("rollout_percent").notNull().default(100),
    status: text("status", { enum: ["active", "halted", "yanked"] })
      .notNull()
      .default("active"),
    haltedReason: text("halted_reason"),
    installs: integer("installs").notNull().default(0),
    rollbacks: integer("rollbacks").notNull().default(0),
    createdAt: createdAt(),
  },
  (t) => [index("idx_releases_channel").on(t.channel, t.status)],
);

/**
 * One-time sign-in links for owners' dashboards (`/auth/link/<token>`): 15 minutes, single use,
 * only the SHA-256 of the secret is stored.
 */
export const signInTokens = sqliteTable(
  "sign_in_tokens",
  {
    id: text("id").primaryKey(),
    ownerId: text("owner_id")
      .notNull()
      .references(() => owners.id),
    secretHash: text("secret_hash").notNull(),
    expiresAt: integer("expires_at", { mode: "timestamp_ms" }).notNull(),
    usedAt: integer("used_at", { mode: "timestamp_ms" }),
    createdAt: createdAt(),
  },
  (t) => [index("idx_sign_in_tokens_owner").on(t.ownerId)],
);

/**
 * Dashboard sessions behind the `__Host-` cookie: an owner's (after a sign-in link) or IT
 * Support's (after the admin token on the sign-in form). The cookie is `<prefix>.<id>.<secret>`;
 * only the secret's SHA-256 is stored. Signing out sets revoked_at.
 */
export const sessions = sqliteTable(
  "sessions",
  {
    id: text("id").primaryKey(),
    kind: text("kind", { enum: ["owner", "admin"] }).notNull(),
    /** Set for an owner's session, null for IT Support's. */
    ownerId: text("owner_id").references(() => owners.id),
    secretHash: text("secret_hash").notNull(),
    expiresAt: integer("expires_at", { mode: "timestamp_ms" }).notNull(),
    revokedAt: integer("revoked_at", { mode: "timestamp_ms" }),
    createdAt: createdAt(),
  },
  (t) => [index("idx_sessions_owner").on(t.ownerId)],
);

export const EMAIL_KINDS = ["invitation", "escalation"] as const;
/** pending: to send (again, after a failed attempt); sending: an attempt claimed it; sent: the binding accepted it. */
export const EMAIL_STATUSES = ["pending", "sending", "sent"] as const;

/**
 * Every email the edge sends through the send_email binding (worker/email/). One row per thing an
 * email is about, by `dedupe_key`, claimed before sending and marked sent after, so a retried
 * request or Queue message never sends it twice (docs/email.md says what happens in between).
 */
export const outgoingEmails = sqliteTable(
  "outgoing_emails",
  {
    id: text("id").primaryKey(),
    /** `invitation:<enrollment code hash>` or `escalation:<escalation id>`; a second insert of the same key is ignored. */
    dedupeKey: text("dedupe_key").notNull().unique(),
    kind: text("kind", { enum: EMAIL_KINDS }).notNull(),
    /** The escalation it tells of (kind escalation): how the triage message finds what it must still send. */
    escalationId: text("escalation_id").references(() => escalations.id),
    fromAddress: text("from_address").notNull(),
    /** JSON array of addresses, each checked when the row was written and again before sending. */
    toAddresses: text("to_addresses").notNull(),
    subject: text("subject").notNull(),
    /** The text and HTML parts, kept only until sent: an invitation's carry a live enrollment code and sign-in link. */
    textBody: text("text_body"),
    htmlBody: text("html_body"),
    status: text("status", { enum: EMAIL_STATUSES }).notNull().default("pending"),
    attempts: integer("attempts").notNull().default(0),
    lastError: text("last_error"),
    /** When the attempt under way (or the last one) claimed it. */
    claimedAt: integer("claimed_at", { mode: "timestamp_ms" }),
    sentAt: integer("sent_at", { mode: "timestamp_ms" }),
    /** The Message-ID the binding answered with. */
    messageId: text("message_id"),
    createdAt: createdAt(),
  },
  (t) => [index("idx_outgoing_emails_created").on(desc(t.createdAt)), index("idx_outgoing_emails_escalation").on(t.escalationId)],
);
