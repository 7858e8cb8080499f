/**
 * The dashboard's pages, rendered by the Worker (hono/jsx) for a signed-in session: Nana's
 * computers at /home, IT Support's views under /support. The fragments (/home/cards,
 * /support/fleet, /support/nodes/:id/live, /support/crash-groups/list) are what app.js fetches
 * every few seconds to refresh a page in place.
 * Actions on the support pages go to the JSON API with the session cookie.
 *
 */
import { Hono } from "hono";
import { createMiddleware } from "hono/factory";
import { z } from "zod";
import { NanaCards, NanaPage, type ComputerCard } from "../../dashboard/views/nana.tsx";
import { NodeDetailBody, NodeDetailPage } from "../../dashboard/views/node-detail.tsx";
import { MessagePage } from "../../dashboard/views/sign-in.tsx";
import { BridgePage, CrashGroupsBody, CrashGroupsPage, FleetPage, FleetTable, type FleetRow, InvitationsPage, KnownIssuesPage, ReleasesPage } from "../../dashboard/views/support.tsx";
import { bridgeText } from "../triage/bridge-message.ts";
import { database } from "../db/client.ts";
import {
  decisionsFor,
  FLEET_SORTS,
  fleetPage,
  HISTORY_DAYS,
  hourlyReports,
  openTickets,
  ownerHistory,
  ownerName,
  ownerNodes,
  recentGroups,
} from "../db/dashboard.ts";
import { listKnownIssues } from "../db/known-issues.ts";
import { listReleases } from "../db/releases.ts";
import { findNode } from "../db/nodes.ts";
import { findOwner } from "../db/owners.ts";
import { listBridgeMessages, listResolutions } from "../db/support.ts";
import { fleetDatabase, ownerDatabase } from "../db/shards.ts";
import { listTelemetry } from "../db/telemetry.ts";
import type { Decision } from "../dashboard/plain-words.ts";
import { historyWords, problemWords, statusWords } from "../dashboard/plain-words.ts";
import type { AppEnv, Env, Viewer } from "../env.ts";
import { ApiError } from "../http/errors.ts";
import { readParams, readQuery } from "../http/query.ts";
import { withRegistryStatus } from "../node-session/registry-status.ts";
import { nodeSession } from "../node-session/stub.ts";
import type { Operation } from "../openapi/operation.ts";
import { sessionViewer } from "../session.ts";

type PageEnv = { Bindings: Env; Variables: { viewer: Viewer } };

/** Pages need a session; a bearer token is for the API. */
function requireSession(kind: Viewer["kind"]) {
  return createMiddleware<PageEnv>(async (c, next) => {
    const viewer = await sessionViewer(c, c.env);
    if (!viewer) {
      const text = kind === "owner" ? "Please open the sign-in link you were sent." : "Please sign in with the admin token.";
      const link = kind === "admin" ? { href: "/auth/support", label: "IT Support sign-in" } : undefined;
      return c.html(MessagePage({ title: "Please sign in", text, link }), 401);
    }
    if (viewer.kind !== kind) {
      // An owner never learns what IT Support's pages hold; IT Support has its own views.
      const text = kind === "admin" ? "This page is for IT Support." : "This page is for owners; IT Support's views are under /support.";
      return c.html(MessagePage({ title: "Not here", text, link: { href: "/", label: "Back to the start" } }), 403);
    }
    c.set("viewer", viewer);
    await next();
  });
}

async function nanaCards(env: Env, ownerId: string): Promise<ComputerCard[]> {
  const db = database(ownerDatabase(env, ownerId));
  const now = Date.now();
  const [computers, history] = await Promise.all([ownerNodes(db, ownerId), ownerHistory(db, ownerId, new Date(now - HISTORY_DAYS * 86400_000))]);
  const crashIds = history.filter((h) => h.type === "crash_report" || h.type === "update_rolled_back").map((h) => h.id);
  // What triage decided is in its own tables, the fleet's.
  const decisions: Decision[] = await decisionsFor(database(fleetDatabase(env)), crashIds);
  return Promise.all(
    computers.map(async (node) => {
      const live = withRegistryStatus(await nodeSession(env, node.id).status(), node);
      const mine = history.filter((h) => h.nodeId === node.id);
      return {
        id: node.id,
        name: node.name,
        version: live.version ?? node.version,
        status: statusWords({
          status: live.status,
          last_seen: live.last_seen ?? node.lastSeenAt?.toISOString() ?? null,
          retired_at: live.retired_at,
        }),
        problem: problemWords(mine, decisions, now),
        history: historyWords(mine, decisions),
      };
    }),
  );
}

const FleetQuery = z.object({
  q: z.string().trim().max(100).default(""),
  status: z.enum(["", "online", "offline", "asleep", "degraded", "retired"]).default(""),
  sort: z.enum(FLEET_SORTS).default("name"),
  dir: z.enum(["asc", "desc"]).default("asc"),
  page: z.coerce.number().int().min(1).max(100_000).default(1),
});
const PER_PAGE = 50;

async function fleet(env: Env, query: z.output<typeof FleetQuery>) {
  // Across owners.
  const { rows, total } = await fleetPage(database(fleetDatabase(env)), {
    q: query.q || undefined,
    status: query.status || undefined,
    sort: query.sort,
    dir: query.dir,
    page: query.page,
    perPage: PER_PAGE,
  });
  // Live figures for the 50 rows shown, from each node's Durable Object, in parallel.
  const items: FleetRow[] = await Promise.all(
    rows.map(async ({ node, ownerName: owner }) => {
      const live = withRegistryStatus(await nodeSession(env, node.id).status(), node);
      return {
        id: node.id,
        name: node.name,
        owner,
        status: live.last_seen || live.status !== "offline" ? live.status : (node.status ?? "offline"),
        version: live.version ?? node.version,
        lastSeen: live.last_seen ?? node.lastSeenAt?.toISOString() ?? null,
        uptimeS: live.uptime_s,
        memoryMb: live.memory_mb,
        errorCount: live.error_count,
        failureCount: live.ws_failure_count,
      };
    }),
  );
  return { rows: items, total, params: { ...query, perPage: PER_PAGE } };
}

const BridgeQuery = z.object({ status: z.enum(["pending", "acked"]).optional() });
/** `group`: one crash group alone (the link in an escalation email). */
const CrashGroupsQuery = z.object({ group: z.uuid().optional() });
const NodeParams = z.object({ id: z.uuid() });

function firstLine(payload: string): { line: string; rolledBack: string | null } {
  try {
    const parsed = JSON.parse(payload) as { entries?: unknown; details?: { stage?: unknown; version?: unknown } };
    const entries = Array.isArray(parsed.entries) ? parsed.entries : [];
    const rolledBack = parsed.details?.stage === "rolled_back" && typeof parsed.details.version === "string" ? parsed.details.version : null;
    return { line: typeof entries[0] === "string" ? entries[0].slice(0, 300) : "", rolledBack };
  } catch {
    return { line: "", rolledBack: null };
  }
}

async function nodeDetail(env: Env, id: string) {
  // Found by id, in the directory; then its reports are in its owner's database.
  const fleet = database(fleetDatabase(env));
  const node = await findNode(fleet, id);
  if (!node) throw new ApiError(404, "node_not_found", `No node ${id}.`);
  const session = nodeSession(env, id);
  const now = Date.now();
  const [owner, live, history, commands, telemetry, resolutions] = await Promise.all([
    findOwner(fleet, node.ownerId),
    session.status().then((status) => withRegistryStatus(status, node)),
    session.history(now),
    session.commands(),
    listTelemetry(database(ownerDatabase(env, node.ownerId)), { scope: { nodeId: id }, unresolvedOnly: false, limit: 50 }),
    listResolutions(fleet, { nodeId: id, limit: 50 }),
  ]);
  const timeline = telemetry.rows.map((t) => ({ ...firstLine(t.payload), id: t.id, type: t.type, severity: t.severity, at: t.createdAt, version: t.nodeVersion }));
  return {
    id: node.id,
    name: node.name,
    owner: owner?.name ?? "",
    os: node.os,
    arch: node.arch,
    status: live.status,
    retiredAt: live.retired_at,
    version: live.version ?? node.version,
    lastSeen: live.last_seen ?? node.lastSeenAt?.toISOString() ?? null,
    uptimeS: live.uptime_s,
    memoryMb: live.memory_mb,
    errorCount: live.error_count,
    failureCount: live.ws_failure_count,
    history,
    timeline: timeline.map((t) => ({ id: t.id, type: t.type, severity: t.severity, at: t.at, version: t.version, firstLine: t.line })),
    commands: commands.map((cmd) => ({ id: cmd.id, type: cmd.type, createdAt: cmd.createdAt, sendCount: cmd.sendCount, ack: cmd.ack })),
    updates: resolutions.rows
      .filter((r) => r.action === "software_update" || r.action === "regression" || r.action === "waiting_for_release")
      .map((r) => ({ at: r.createdAt, action: r.action, fromVersion: r.fromVersion, fixVersion: r.fixVersion, state: r.state })),
    quarantined: [...new Set(timeline.flatMap((t) => (t.rolledBack ? [t.rolledBack] : [])))],
    now,
  };
}

/** The crash groups page's data; `group` narrows it to that group and its ticket (the escalation email's link). */
async function crashGroups(env: Env, group: string | undefined) {
  const db = database(fleetDatabase(env));
  const [groups, tickets] = await Promise.all([recentGroups(db, group), openTickets(db)]);
  if (group && groups.length === 0) throw new ApiError(404, "crash_group_not_found", `No crash group ${group}.`);
  const hours = await hourlyReports(db, groups.map(({ group }) => group.id), Date.now());
  const items = groups.map(({ group, pattern }) => ({
    id: group.id,
    title: group.title,
    state: group.state,
    reports: group.reportCount,
    nodes: group.nodeCount,
    versions: (JSON.parse(group.versions) as string[]).sort(),
    pattern,
    lastSeen: group.lastSeenAt,
    hours: hours.get(group.id) ?? [],
  }));
  const ticketItems = tickets
    .filter((t) => !group || t.groupId === group)
    .map((t) => ({ id: t.id, groupId: t.groupId, title: t.title, tags: JSON.parse(t.tags) as string[], reports: t.reportCount, updatedAt: t.updatedAt }));
  return { groups: items, tickets: ticketItems, only: group ?? null };
}

const owner = new Hono<PageEnv>()
  .use(requireSession("owner"))
  .get("/", async (c) => {
    const viewer = c.get("viewer");
    if (viewer.kind !== "owner") throw new Error("unreachable: requireSession(owner)");
    const [name, cards] = await Promise.all([ownerName(database(fleetDatabase(c.env)), viewer.ownerId), nanaCards(c.env, viewer.ownerId)]);
    return c.html(<NanaPage ownerName={name ?? ""} cards={cards} />);
  })
  .get("/cards", async (c) => {
    const viewer = c.get("viewer");
    if (viewer.kind !== "owner") throw new Error("unreachable: requireSession(owner)");
    return c.html(<NanaCards cards={await nanaCards(c.env, viewer.ownerId)} />);
  });

const support = new Hono<PageEnv>()
  .use(requireSession("admin"))
  .get("/", async (c) => c.html(<FleetPage {...await fleet(c.env, readQuery(c, FleetQuery))} />))
  .get("/fleet", async (c) => c.html(<FleetTable {...await fleet(c.env, readQuery(c, FleetQuery))} />))
  .get("/bridge", async (c) => {
    const query = readQuery(c, BridgeQuery);
    const page = await listBridgeMessages(database(fleetDatabase(c.env)), { status: query.status, limit: 100 });
    const items = page.rows.map((row) => ({ id: row.id, text: bridgeText(row.msg), status: row.status, createdAt: row.createdAt }));
    return c.html(<BridgePage items={items} />);
  })
  .get("/known-issues", async (c) => c.html(<KnownIssuesPage items={await listKnownIssues(database(fleetDatabase(c.env)))} />))
  .get("/releases", async (c) => c.html(<ReleasesPage items={await listReleases(database(fleetDatabase(c.env)))} />))
  .get("/invitations", (c) => c.html(<InvitationsPage />))
  .get("/nodes/:id", async (c) => {
    const { id } = readParams(c, NodeParams);
    return c.html(<NodeDetailPage node={await nodeDetail(c.env, id)} />);
  })
  .get("/nodes/:id/live", async (c) => {
    const { id } = readParams(c, NodeParams);
    return c.html(<NodeDetailBody node={await nodeDetail(c.env, id)} />);
  })
  .get("/crash-groups", async (c) => c.html(<CrashGroupsPage {...await crashGroups(c.env, readQuery(c, CrashGroupsQuery).group)} />))
  .get("/crash-groups/list", async (c) => c.html(<CrashGroupsBody {...await crashGroups(c.env, readQuery(c, CrashGroupsQuery).group)} />));

export const dashboardRoutes = new Hono<AppEnv>()
  .get("/", async (c) => {
    const viewer = await sessionViewer(c, c.env);
    if (!viewer) return c.redirect("/auth/support", 303);
    return c.redirect(viewer.kind === "owner" ? "/home" : "/support", 303);
  })
  .route("/home", owner)
  .route("/support", support);

const HTML = { mediaType: "text/html" };
const page = (path: string, summary: string, extra: Partial<Operation> = {}): Operation => ({
  method: "get",
  path,
  summary,
  auth: "session",
  html: true,
  responses: { 200: { description: "The page.", ...HTML } },
  errors: { 403: "Signed in, but as the other kind of user (owner / IT Support)." },
  ...extra,
});

export const dashboardApi: Operation[] = [
  {
    method: "get",
    path: "/",
    summary: "The dashboard's start: to /home (an owner), /support (IT Support) or the IT Support sign-in",
    auth: "none",
    html: true,
    responses: { 303: { description: "Location: where this session belongs." } },
  },
  page("/home", "Nana's view: one card per computer in plain words, with 30 days of history"),
  page("/home/cards", "The cards alone (what the page refreshes itself with)"),
  page("/support", "IT Support: the fleet, filtered, sorted and paged (50 a page)", { query: FleetQuery }),
  page("/support/fleet", "The fleet table alone (what the page refreshes itself with)", { query: FleetQuery }),
  page("/support/bridge", "The bridge inbox, with an Acknowledge button per pending message", { query: BridgeQuery }),
  page("/support/known-issues", "Known issues: dry run, edit, disable, enable, create"),
  page("/support/releases", "Releases: rollout, installs, rollbacks, state; halt, resume, set rollout, push, yank"),
  page("/support/nodes/{id}", "One node: live status, 24 h memory and error charts (from its Durable Object), updates, commands with acks, telemetry", {
    params: NodeParams,
    errors: { 403: "Signed in, but as an owner.", 404: "No such node (node_not_found)." },
  }),
  page("/support/nodes/{id}/live", "The node's page below its name (what the page refreshes itself with)", {
    params: NodeParams,
    errors: { 403: "Signed in, but as an owner.", 404: "No such node (node_not_found)." },
  }),
  page("/support/crash-groups", "Crash groups (count, nodes, versions, state, matched known issue, 24 h sparkline) and open tickets; ?group= one group alone", {
    query: CrashGroupsQuery,
    errors: { 403: "Signed in, but as an owner.", 404: "No such crash group (crash_group_not_found)." },
  }),
  page("/support/crash-groups/list", "The crash groups and open tickets alone (what the page refreshes itself with); ?group= one group alone", {
    query: CrashGroupsQuery,
    errors: { 403: "Signed in, but as an owner.", 404: "No such crash group (crash_group_not_found)." },
  }),
  page("/support/invitations", "Invite an owner: owner, enrollment code and sign-in link (through the admin API)"),
];
