/**
 * A release pushed to its whole rollout goes through the edge's Queue, not through an admin
 * paging the fleet a hundred nodes per call. A plan message walks the node list (PLAN_PAGES
 * pages per message, then it sends itself on with a cursor) and sends one page message per
 * PUSH_PAGE nodes; each page message pushes to those of its nodes that should get the release
 * (push-now.ts's rules, rollout applied, each node's state read when its page runs). Page
 * messages are independent, so the Queue runs them in parallel as it scales its consumers.
 *
 * Redelivery is harmless at every step: a SOFTWARE_UPDATE's id is per (node, version), and a
 * node's Durable Object ignores an id it already has. A release halted, yanked or expired
 * meanwhile stops the fan-out where it is.
 */
import { database } from "../db/client.ts";
import { fleetDatabase } from "../db/shards.ts";
import { findNodesById, listNodes } from "../db/nodes.ts";
import type { PageCursor } from "../db/page.ts";
import { findRelease, type Release } from "../db/releases.ts";
import type { Env } from "../env.ts";
import { PUSH_PAGE, type PushOutcome, pushTo } from "./push-now.ts";

/** Pages of nodes one plan message walks: 50 × 100 nodes, a few D1 reads and sends. */
const PLAN_PAGES = 50;
/** Page messages per sendBatch: 10 × 100 ids stay far under the Queue's 256 KB per batch. */
const SEND_CHUNK = 10;

export type PushPlanMessage = { kind: "push_plan"; version: string; after: PageCursor | null };
export type PushPageMessage = { kind: "push_page"; version: string; node_ids: string[] };
export type PushMessage = PushPlanMessage | PushPageMessage;

export function isPushMessage(body: unknown): body is PushMessage {
  return typeof body === "object" && body !== null && "kind" in body && (body.kind === "push_plan" || body.kind === "push_page");
}

/** The first plan message of a release's fan-out. */
export async function startPushFanout(env: Env, version: string): Promise<void> {
  await env.TRIAGE_QUEUE.send({ kind: "push_plan", version, after: null });
}

export type FanoutStep = { kind: PushMessage["kind"]; version: string; stopped: string | null; pages: number } & PushOutcome;

export async function runPushMessage(env: Env, message: PushMessage, options: { planPages?: number } = {}): Promise<FanoutStep> {
  const step: FanoutStep = { kind: message.kind, version: message.version, stopped: null, pages: 0, pushed: [], skipped: [] };
  // Releases are the fleet's, and the pages of nodes span owners.
  const db = database(fleetDatabase(env));
  const release = await findRelease(db, message.version);
  step.stopped = whyNotPushable(release);
  if (step.stopped || !release) return step;
  if (message.kind === "push_page") {
    const nodes = await findNodesById(db, message.node_ids);
    return { ...step, ...(await pushTo(env, release, nodes, { rollout: true })) };
  }
  let after = message.after ?? undefined;
  const pages: PushPageMessage[] = [];
  for (let i = 0; i < (options.planPages ?? PLAN_PAGES); i++) {
    const page = await listNodes(db, { ownerId: null, limit: PUSH_PAGE, after });
    if (page.rows.length > 0) pages.push({ kind: "push_page", version: release.version, node_ids: page.rows.map((n) => n.id) });
    after = page.next ?? undefined;
    if (!after) break;
  }
  for (let i = 0; i < pages.length; i += SEND_CHUNK) {
    await env.TRIAGE_QUEUE.sendBatch(pages.slice(i, i + SEND_CHUNK).map((body) => ({ body })));
  }
  // Sent last: if anything above failed, this message is retried and re-sends the same pages.
  if (after) await env.TRIAGE_QUEUE.send({ kind: "push_plan", version: release.version, after });
  step.pages = pages.length;
  return step;
}

function whyNotPushable(release: Release | undefined | null): string | null {
  if (!release) return "no such release";
  if (release.status !== "active") return `release is ${release.status}`;
  if (release.expiresAt.getTime() <= Date.now()) return "release expired";
  return null;
}
