/**
 * Keeps D1 small: telemetry older than TELEMETRY_RETENTION_DAYS moves to R2 (the ARCHIVE bucket)
 * as NDJSON, one object per node and UTC day (archive-key.ts), and the D1 row keeps a summary
 * (summary.ts). Run by the cron trigger in wrangler.toml.
 *
 * Only whole UTC days are archived (rows before the start of the day the retention period ends
 * in), so a node's day is normally written once. A day split across batches or runs is merged
 * into the object already there, by row id, so nothing is written twice. Order per batch: the
 * R2 objects first, then the D1 rows; a run that dies between the two leaves rows that the next
 * run writes again, merged away by id. Nothing is marked archived before R2 holds it.
 *
 * One run at a time: the schedule is hourly and a run stops after RUN_BUDGET_MS. An object that
 * changed since this run read it (etag) is not overwritten; its rows wait for the next run.
 */
import { archiveRetentionDays } from "../config.ts";
import { type ArchivableRow, markArchived, unarchivedBefore } from "../db/telemetry-archive.ts";
import type { Env } from "../env.ts";
import { fleetDatabase } from "../db/shards.ts";
import { archiveKey } from "./archive-key.ts";
import { summaryOf } from "./summary.ts";

const DAY_MS = 24 * 3600 * 1000;
/** Rows per batch: each holds up to 64 KB of payload, so a batch stays a few MB in memory. */
const BATCH_ROWS = 200;
const RUN_BUDGET_MS = 60_000;

export type ArchiveRun = { archived: number; objects: number; deferred: number; batches: number };

/** One archived event, as a line of its day's NDJSON object. */
export type ArchivedLine = {
  id: string;
  node_id: string;
  owner_id: string;
  event_id: string;
  type: string;
  severity: string;
  resolved: boolean;
  node_version: string | null;
  created_at: string;
  payload: unknown;
};

export async function archiveOldTelemetry(
  env: Env,
  now: number,
  options: { batchRows?: number; budgetMs?: number } = {},
): Promise<ArchiveRun> {
  const cutoff = Math.floor((now - archiveRetentionDays(env) * DAY_MS) / DAY_MS) * DAY_MS;
  const batchRows = options.batchRows ?? BATCH_ROWS;
  const deadline = Date.now() + (options.budgetMs ?? RUN_BUDGET_MS);
  const run: ArchiveRun = { archived: 0, objects: 0, deferred: 0, batches: 0 };
  // Across owners: with D1 sharded by owner (db/shards.ts) a run archives each shard.
  const d1 = fleetDatabase(env);
  while (Date.now() < deadline) {
    const rows = await unarchivedBefore(d1, cutoff, batchRows);
    if (rows.length === 0) break;
    run.batches++;
    const written: { id: string; summary: string }[] = [];
    for (const [key, group] of byObject(rows)) {
      if (await appendToObject(env.ARCHIVE, key, group)) {
        run.objects++;
        for (const row of group) written.push({ id: row.id, summary: summaryOf(row.payload) });
      } else {
        run.deferred += group.length;
      }
    }
    await markArchived(d1, written, now);
    run.archived += written.length;
    // Every row of this batch was deferred: the next batch would read the same rows.
    if (written.length === 0 || rows.length < batchRows) break;
  }
  return run;
}

function byObject(rows: readonly ArchivableRow[]): Map<string, ArchivableRow[]> {
  const groups = new Map<string, ArchivableRow[]>();
  for (const row of rows) {
    const key = archiveKey(row.nodeId, row.createdAt);
    const group = groups.get(key);
    if (group) group.push(row);
    else groups.set(key, [row]);
  }
  return groups;
}

/** Writes the rows into their object, merged with what it holds by id; false if the object changed meanwhile. */
async function appendToObject(bucket: R2Bucket, key: string, rows: readonly ArchivableRow[]): Promise<boolean> {
  const existing = await bucket.get(key);
  const lines = new Map<string, string>();
  if (existing) {
    for (const [i, line] of (await existing.text()).split("\n").entries()) {
      // A line this code cannot read is kept as it is, never dropped.
      if (line.trim() !== "") lines.set(idOf(line) ?? `unreadable line ${i}`, line);
    }
  }
  for (const row of rows) lines.set(row.id, JSON.stringify(lineOf(row)));
  const body = `${[...lines.values()].join("\n")}\n`;
  const put = await bucket.put(key, body, {
    httpMetadata: { contentType: "application/x-ndjson" },
    ...(existing ? { onlyIf: { etagMatches: existing.etag } } : {}),
  });
  return put !== null;
}

function lineOf(row: ArchivableRow): ArchivedLine {
  return {
    id: row.id,
    node_id: row.nodeId,
    owner_id: row.ownerId,
    event_id: row.eventId,
    type: row.type,
    severity: row.severity,
    resolved: row.resolved === 1,
    node_version: row.nodeVersion,
    created_at: new Date(row.createdAt).toISOString(),
    payload: parsedOrText(row.payload),
  };
}

function idOf(line: string): string | null {
  const parsed = parsedOrText(line);
  return typeof parsed === "object" && parsed !== null && "id" in parsed && typeof parsed.id === "string" ? parsed.id : null;
}

function parsedOrText(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** The full event of an archived row, or null if its object has no line for it. */
export async function readArchived(bucket: R2Bucket, nodeId: string, createdAt: number, id: string): Promise<ArchivedLine | null> {
  const object = await bucket.get(archiveKey(nodeId, createdAt));
  if (!object) return null;
  for (const line of (await object.text()).split("\n")) {
    if (line.includes(id) && idOf(line) === id) return JSON.parse(line) as ArchivedLine;
  }
  return null;
}
