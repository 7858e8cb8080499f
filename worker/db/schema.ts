/**
 * The D1 schema (Drizzle). `npm run db:generate` turns changes here into SQL
 * under migrations/; never edit a generated migration by hand.
 *
 * Times are integer milliseconds since the epoch: they sort exactly, which the
 * telemetry cursor relies on, and cost 8 bytes.
 */
import { desc, sql } from "drizzle-orm";
import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

const createdAt = () =>
  integer("created_at", { mode: "timestamp_ms" })
    .notNull()
    .default(sql`(unixepoch('subsec') * 1000)`);

/** A customer (e.g. Nana's family) who owns nodes and reads the dashboard with a token. */
export const owners = sqliteTable("owners", {
  id: text("id").primaryKey(),
  email: text("email").notNull().unique(),
  name: text("name").notNull(),
  /** SHA-256 (hex) of the dashboard token's secret; the token itself is shown once. */
  dashboardTokenHash: text("dashboard_token_hash").notNull(),
  createdAt: createdAt(),
});

/** The spec's node_registry: one row per enrolled computer. */
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
    /** As the node's Durable Object last reported it; see protocol NODE_STATUSES. */
    status: text("status", { enum: ["online", "offline", "asleep", "degraded"] })
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
    /** The spec's user_id: the owner of the node when the event arrived. */
    ownerId: text("owner_id")
      .notNull()
      .references(() => owners.id),
    /** The node's own id for this report; a retry carries the same one. */
    eventId: text("event_id").notNull(),
    /** What nodes send, plus what the cloud records about them (node_offline, node_back_online). */
    type: text("type", {
      enum: ["crash_report", "connection_degraded", "error", "health", "node_offline", "node_back_online"],
    }).notNull(),
    payload: text("payload").notNull(),
    nodeVersion: text("node_version"),
    severity: text("severity", { enum: ["info", "warning", "critical"] })
      .notNull()
      .default("info"),
    resolved: integer("resolved", { mode: "boolean" }).notNull().default(false),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex("uq_telemetry_node_event").on(t.nodeId, t.eventId),
    index("idx_telemetry_node").on(t.nodeId, desc(t.createdAt)),
    // The dashboard's "all my nodes" view pages through one owner's events.
    index("idx_telemetry_owner").on(t.ownerId, desc(t.createdAt)),
    index("idx_telemetry_unresolved")
      .on(t.resolved, t.severity)
      .where(sql`${t.resolved} = 0`),
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
  createdAt: createdAt(),
});
