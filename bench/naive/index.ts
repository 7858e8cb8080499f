/**
 * The ingest benchmark's second baseline: `POST /api/node/telemetry` as a first, naive
 * implementation would write it on the same D1 schema. Look the node up by its key in D1 (no
 * cache), insert the row, answer 202; a crash report (or a rollback report) is also sent to the
 * triage Queue. No validation, no rate limit, no idempotency (a repeated event_id is a 500 from
 * the unique index), no log line. bench/ingest.ts measures the real endpoint as a ratio of this.
 *
 * Its queue consumer is the real one (worker/queue.ts) and the NodeSession class is the real one
 * (triage may push a command to a node's object), so a crash report costs the same triage on both
 * sides, in the same workerd as the Worker that accepted it, as production's one Worker does.
 * Importing them from the edge's code rather than copying them keeps that true as triage changes.
 *
 * `POST /api/bench/rate-limit` and `POST /api/bench/answer` are not part of the baseline: the first
 * only calls the rate-limit binding once and answers, the second only answers, so that the bench
 * can show what the local emulation of that binding costs per request (the difference; in
 * Miniflare a Durable Object with a SQLite write per call, which production does not have).
 *
 * Type-checked with the Worker's tsconfig.json (it imports Worker code), not tsconfig.node.json.
 */
import type { Env } from "../../worker/env.ts";
import { handleQueueBatch, type QueueMessage } from "../../worker/queue.ts";

export { NodeSession } from "../../worker/node-session/node-session.ts";

const CRITICAL = new Set(["crash_report", "update_rolled_back"]);
const WARNING = new Set(["connection_degraded", "error", "update_failed"]);

type Report = { event_id: string; type: string; node_version?: string };

export default {
  async fetch(request, env) {
    const { pathname } = new URL(request.url);
    if (request.method === "POST" && pathname === "/api/node/telemetry") return telemetry(request, env);
    if (request.method === "POST" && pathname === "/api/bench/rate-limit") return probe(request, env, true);
    if (request.method === "POST" && pathname === "/api/bench/answer") return probe(request, env, false);
    return new Response("not found", { status: 404 });
  },
  queue: (batch, env) => handleQueueBatch(batch, env),
} satisfies ExportedHandler<Env, QueueMessage>;

async function telemetry(request: Request, env: Env): Promise<Response> {
  // bnk.<node id>.<secret>; the row keeps the secret's SHA-256.
  const [, nodeId = "", secret = ""] = (request.headers.get("x-node-key") ?? "").split(".");
  const keyHash = await sha256Hex(secret);
  const node = await env.DB.prepare("SELECT id, owner_id FROM nodes WHERE id = ? AND key_hash = ?")
    .bind(nodeId, keyHash)
    .first<{ id: string; owner_id: string }>();
  if (!node) return new Response("unauthorized", { status: 401 });

  const text = await request.text();
  const report = JSON.parse(text) as Report;
  const severity = CRITICAL.has(report.type) ? "critical" : WARNING.has(report.type) ? "warning" : "info";
  const id = crypto.randomUUID();
  await env.DB.prepare(
    "INSERT INTO node_telemetry (id, node_id, owner_id, event_id, type, payload, node_version, severity) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
  )
    .bind(id, node.id, node.owner_id, report.event_id, report.type, text, report.node_version ?? null, severity)
    .run();
  if (severity === "critical") await env.TRIAGE_QUEUE.send({ telemetry_id: id, node_id: node.id, type: report.type });
  return Response.json({ id, severity }, { status: 202 });
}

/** Hello-world's answer, after one call of the rate-limit binding (keyed on the node id, as the real edge keys it) if asked. */
async function probe(request: Request, env: Env, rateLimit: boolean): Promise<Response> {
  const nodeId = (request.headers.get("x-node-key") ?? "").split(".")[1] ?? "";
  await request.arrayBuffer();
  if (rateLimit) await env.NODE_RATE_LIMIT.limit({ key: nodeId });
  return Response.json({ id: "00000000-0000-4000-8000-000000000000", severity: "critical" }, { status: 202 });
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}
