/**
 * The support API (ADMIN_TOKEN) for IT Support and the dashboard: crash
 * groups, tickets, resolutions and the bridge_comms inbox, newest first with
 * cursor pagination. Bridge messages stay pending until acknowledged: that is
 * how "if IT Support is offline, queue for next heartbeat" holds. The emails
 * the edge sent (or is sending) are listed without their bodies.
 */
import { Hono } from "hono";
import { z } from "zod";
import { bridgeText } from "../triage/bridge-message.ts";
import { requireAdmin } from "../auth.ts";
import { database } from "../db/client.ts";
import { fleetDatabase } from "../db/shards.ts";
import { listEmails } from "../db/emails.ts";
import { ackBridgeMessage, listBridgeMessages, listCrashGroups, listResolutions, listTickets } from "../db/support.ts";
import { type bridgeComms, EMAIL_KINDS, EMAIL_STATUSES, type outgoingEmails } from "../db/schema.ts";
import type { AppEnv } from "../env.ts";
import { decodeCursor, encodeCursor, PageQuery } from "../http/cursor.ts";
import { ApiError } from "../http/errors.ts";
import { readParams, readQuery } from "../http/query.ts";
import type { Operation } from "../openapi/operation.ts";

const ResolutionsQuery = PageQuery.extend({ node_id: z.uuid().optional() });
const BridgeQuery = PageQuery.extend({ status: z.enum(["pending", "acked"]).optional() });
const BridgeParams = z.object({ id: z.uuid() });
const EmailsQuery = PageQuery.extend({ kind: z.enum(EMAIL_KINDS).optional(), status: z.enum(EMAIL_STATUSES).optional() });

/**
 * An attempt takes seconds; one that claimed an email this long ago and never said how it went
 * died in between (docs/email.md): the email may or may not have gone, and is not sent again.
 */
const UNKNOWN_OUTCOME_AFTER_MS = 15 * 60_000;

const iso = (d: Date | null) => d?.toISOString() ?? null;
const next = (page: { next: { createdAt: number; id: string } | null }) => (page.next ? encodeCursor(page.next) : null);

function bridgeView(row: typeof bridgeComms.$inferSelect) {
  return {
    id: row.id,
    telemetry_id: row.telemetryId,
    from: row.from,
    class: row.class,
    msg: row.msg,
    text: bridgeText(row.msg),
    status: row.status,
    created_at: iso(row.createdAt),
    acked_at: iso(row.ackedAt),
  };
}

function emailView(row: typeof outgoingEmails.$inferSelect, now: number) {
  return {
    id: row.id,
    kind: row.kind,
    escalation_id: row.escalationId,
    from: row.fromAddress,
    to: JSON.parse(row.toAddresses) as string[],
    subject: row.subject,
    status: row.status,
    outcome_unknown: row.status === "sending" && row.claimedAt !== null && now - row.claimedAt.getTime() > UNKNOWN_OUTCOME_AFTER_MS,
    attempts: row.attempts,
    last_error: row.lastError,
    message_id: row.messageId,
    created_at: iso(row.createdAt),
    claimed_at: iso(row.claimedAt),
    sent_at: iso(row.sentAt),
  };
}

export const supportRoutes = new Hono<AppEnv>()
  .use(requireAdmin)
  .get("/crash-groups", async (c) => {
    const query = readQuery(c, PageQuery);
    const page = await listCrashGroups(database(fleetDatabase(c.env)), { limit: query.limit, after: decodeCursor(query.cursor) });
    return c.json({
      items: page.rows.map((g) => ({
        id: g.id,
        fingerprint: g.fingerprint,
        title: g.title,
        state: g.state,
        report_count: g.reportCount,
        node_count: g.nodeCount,
        versions: (JSON.parse(g.versions) as string[]).sort(),
        known_issue_id: g.knownIssueId,
        first_seen_at: iso(g.firstSeenAt),
        last_seen_at: iso(g.lastSeenAt),
        latest_telemetry_id: g.latestTelemetryId,
        latest_sample: JSON.parse(g.latestSample) as string[],
        last_escalated_at: iso(g.lastEscalatedAt),
      })),
      next_cursor: next(page),
    });
  })
  .get("/tickets", async (c) => {
    const query = readQuery(c, PageQuery);
    const page = await listTickets(database(fleetDatabase(c.env)), { limit: query.limit, after: decodeCursor(query.cursor) });
    return c.json({
      items: page.rows.map((t) => ({
        id: t.id,
        crash_group_id: t.groupId,
        title: t.title,
        tags: JSON.parse(t.tags) as string[],
        status: t.status,
        report_count: t.reportCount,
        created_at: iso(t.createdAt),
        updated_at: iso(t.updatedAt),
      })),
      next_cursor: next(page),
    });
  })
  .get("/resolutions", async (c) => {
    const query = readQuery(c, ResolutionsQuery);
    const page = await listResolutions(database(fleetDatabase(c.env)), {
      nodeId: query.node_id,
      limit: query.limit,
      after: decodeCursor(query.cursor),
    });
    return c.json({
      items: page.rows.map((r) => ({
        id: r.id,
        telemetry_id: r.telemetryId,
        crash_group_id: r.groupId,
        node_id: r.nodeId,
        known_issue_id: r.knownIssueId,
        action: r.action,
        from_version: r.fromVersion,
        fix_version: r.fixVersion,
        state: r.state,
        auto_resolve: r.autoResolve,
        command_id: r.commandId,
        created_at: iso(r.createdAt),
        verified_at: iso(r.verifiedAt),
      })),
      next_cursor: next(page),
    });
  })
  .get("/bridge", async (c) => {
    const query = readQuery(c, BridgeQuery);
    const page = await listBridgeMessages(database(fleetDatabase(c.env)), {
      status: query.status,
      limit: query.limit,
      after: decodeCursor(query.cursor),
    });
    return c.json({ items: page.rows.map(bridgeView), next_cursor: next(page) });
  })
  .post("/bridge/:id/ack", async (c) => {
    const { id } = readParams(c, BridgeParams);
    const row = await ackBridgeMessage(database(fleetDatabase(c.env)), id, new Date());
    if (!row) throw new ApiError(404, "bridge_message_not_found", `No bridge message ${id}.`);
    return c.json(bridgeView(row));
  })
  .get("/emails", async (c) => {
    const query = readQuery(c, EmailsQuery);
    const page = await listEmails(database(fleetDatabase(c.env)), {
      kind: query.kind,
      status: query.status,
      limit: query.limit,
      after: decodeCursor(query.cursor),
    });
    const now = Date.now();
    return c.json({ items: page.rows.map((row) => emailView(row, now)), next_cursor: next(page) });
  });

const BRIDGE = "{id, telemetry_id, from, class, msg, text, status, created_at, acked_at}";

export const supportApi: Operation[] = [
  {
    method: "get",
    path: "/api/support/crash-groups",
    summary: "Crash groups, newest first",
    auth: "admin",
    query: PageQuery,
    responses: {
      200: {
        description:
          "{items: [{id, fingerprint, title, state, report_count, node_count, versions, known_issue_id, first_seen_at, last_seen_at, latest_telemetry_id, latest_sample, last_escalated_at}], next_cursor}",
      },
    },
  },
  {
    method: "get",
    path: "/api/support/tickets",
    summary: "Tickets, newest first",
    auth: "admin",
    query: PageQuery,
    responses: {
      200: { description: "{items: [{id, crash_group_id, title, tags, status, report_count, created_at, updated_at}], next_cursor}" },
    },
  },
  {
    method: "get",
    path: "/api/support/resolutions",
    summary: "What triage decided for each report, newest first (optionally one node's)",
    auth: "admin",
    query: ResolutionsQuery,
    responses: {
      200: {
        description:
          "{items: [{id, telemetry_id, crash_group_id, node_id, known_issue_id, action, from_version, fix_version, state, auto_resolve, command_id, created_at, verified_at}], next_cursor}",
      },
    },
  },
  {
    method: "get",
    path: "/api/support/bridge",
    summary: "The bridge_comms inbox, newest first: pending until acknowledged",
    auth: "admin",
    query: BridgeQuery,
    responses: { 200: { description: `{items: [${BRIDGE}], next_cursor}` } },
  },
  {
    method: "post",
    path: "/api/support/bridge/{id}/ack",
    summary: "Acknowledge a bridge message",
    auth: "admin",
    params: BridgeParams,
    responses: { 200: { description: BRIDGE } },
    errors: { 404: "No such bridge message (bridge_message_not_found)." },
  },
  {
    method: "get",
    path: "/api/support/emails",
    summary: "The emails the edge sent or is sending (invitations, escalations), newest first, without their bodies",
    auth: "admin",
    query: EmailsQuery,
    responses: {
      200: {
        description:
          "{items: [{id, kind, escalation_id, from, to, subject, status (pending | sending | sent), outcome_unknown, attempts, last_error, message_id, created_at, claimed_at, sent_at}], next_cursor}",
      },
    },
  },
];
