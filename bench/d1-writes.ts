/**
 * D1 writes the real Worker makes for a node in steady state, counted by SQLite itself:
 * before the edge starts, an AFTER INSERT/UPDATE/DELETE trigger on every table of the migrated
 * local D1 (but see UNTRACKED) appends (table, op) to bench_d1_writes, so every row written is
 * logged in order.
 * BENCH_D1_NODES nodes (default 200) then connect and heartbeat at a real node's pace, but with
 * HEARTBEAT_INTERVAL_SECONDS=1 so a short window holds many heartbeats (and, with the grace of
 * 3 beats + 5 s, several dead man's switch alarms per node). The window is bracketed by two
 * marker writes (an enrollment code each), so the log is cut exactly, with no clocks involved;
 * it is read once the edge has stopped.
 *
 *   d1_writes_per_node_hour = steady writes per heartbeat × 120 heartbeats an hour (30 s)
 *                           + 1 designed hourly rollup (NodeSession refreshes last_seen_at once
 *                             an hour; not observable in a short run, so added explicitly).
 * Target <= 1 (a write per heartbeat would be 120). Writes when a node connects or first
 * heartbeats (status, version) are reported apart, per node.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { migrateLocalD1, REPO_ROOT } from "../scripts/local-edge.ts";
import { d1ExecuteFile, d1Query } from "./d1-local.ts";
import { startEdge, stopEdge } from "./edges.ts";
import { createCode, createOwner, enrollFleet } from "./fleet.ts";
import { heartbeatFrame } from "./payload.ts";
import { log, positiveInt, sleep } from "./settings.ts";
import { closeFleet, openFleet, startLoop, type LoopResult } from "./ws-fleet.ts";

export const D1_TARGET_PER_NODE_HOUR = 1;
const REAL_INTERVAL_SECONDS = 30;
const HEARTBEATS_PER_HOUR = 3600 / REAL_INTERVAL_SECONDS;
/** NodeSession's designed rollup: last_seen_at refreshed at most once an hour (timing.ts rollupMs). */
const ROLLUP_WRITES_PER_HOUR = 1;
const BENCH_INTERVAL_SECONDS = 1;
const LOG_TABLE = "bench_d1_writes";
/**
 * Not counted: D1's meta.changes includes rows written by triggers, and enrollment checks
 * `meta.changes === 1` on this UPDATE, so a trigger here would make every enrollment fail.
 * The heartbeat path never touches enrollment codes.
 */
const UNTRACKED = new Set(["enrollment_codes UPDATE"]);

export type D1Section = {
  settings: { nodes: number; intervalSeconds: number; settleSeconds: number; windowSeconds: number };
  tables: string[];
  heartbeats: number;
  loop: LoopResult;
  /** Rows written between the markers, per "table op". */
  steadyWrites: Record<string, number>;
  steadyWritesTotal: number;
  writesPerHeartbeat: number;
  heartbeatPart: number;
  rollupPart: number;
  perNodeHour: number;
  /** nodes UPDATEs before the window (connect + first heartbeat), per node. */
  startupWritesPerNode: number;
  target: number;
  failures: string[];
};

export async function benchD1Writes(): Promise<D1Section> {
  const settings = {
    nodes: positiveInt("BENCH_D1_NODES", 200),
    intervalSeconds: BENCH_INTERVAL_SECONDS,
    settleSeconds: positiveInt("BENCH_D1_SETTLE", 5),
    windowSeconds: positiveInt("BENCH_D1_WINDOW", 30),
  };
  const persistDir = await mkdtemp(path.join(tmpdir(), "buhdi-edge-"));
  try {
    log("d1: migrating a local D1 and installing write-counting triggers");
    const tables = await installD1WriteLog(persistDir);

    // config given: local-edge does not migrate again (already done, with the triggers on top).
    const edge = await startEdge({
      direct: true,
      persistDir,
      config: path.join(REPO_ROOT, "wrangler.toml"),
      vars: { HEARTBEAT_INTERVAL_SECONDS: String(BENCH_INTERVAL_SECONDS) },
    });
    let loop: LoopResult;
    try {
      const nodes = await enrollFleet(edge, settings.nodes, 32);
      const fleet = await openFleet(
        edge.url,
        nodes.map((node) => ({ key: node.key, frame: heartbeatFrame(node.nodeId) })),
        { concurrency: 32, handshakeTimeoutMs: 30_000, deadlineMs: 60_000 },
      );
      if (fleet.sockets.length < nodes.length) throw new Error(`d1: only ${fleet.sockets.length} of ${nodes.length} sockets opened`);
      const beats = startLoop(fleet, { kind: "paced", intervalMs: BENCH_INTERVAL_SECONDS * 1000 }, (m) =>
        m.includes('"type":"heartbeat_ack"'),
      );
      try {
        log(`d1: ${nodes.length} nodes heartbeating every ${BENCH_INTERVAL_SECONDS} s; settling ${settings.settleSeconds} s`);
        await sleep(settings.settleSeconds * 1000);
        const ownerId = await createOwner(edge);
        await createCode(edge, ownerId, "bench-marker-window-start");
        beats.beginWindow();
        log(`d1: counting writes for ${settings.windowSeconds} s`);
        await sleep(settings.windowSeconds * 1000);
        loop = beats.endWindow();
        await createCode(edge, ownerId, "bench-marker-window-end");
      } finally {
        beats.stop();
        await closeFleet(fleet);
      }
    } finally {
      await stopEdge(edge, { keepState: true });
    }

    return summarize(settings, tables, await readD1WriteLog(persistDir), loop);
  } finally {
    await rm(persistDir, { recursive: true, force: true });
  }
}

type LoggedWrite = { seq: number; tbl: string; op: string };

/** Migrates a fresh local D1 in persistDir and logs every row written to it from then on; returns the tables. */
export async function installD1WriteLog(persistDir: string): Promise<string[]> {
  await migrateLocalD1(persistDir, false);
  const tables = (
    await d1Query<{ name: string }>(
      persistDir,
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name <> 'd1_migrations'",
    )
  ).map((row) => row.name);
  await d1ExecuteFile(persistDir, triggersSql(tables));
  return tables;
}

/** Every row written since installD1WriteLog, in order (read once no edge holds persistDir). */
export function readD1WriteLog(persistDir: string): Promise<LoggedWrite[]> {
  return d1Query<LoggedWrite>(persistDir, `SELECT seq, tbl, op FROM ${LOG_TABLE} ORDER BY seq`);
}

/**
 * The rows written between the last two marker writes (an enrollment code each, createCode),
 * by "table op"; the window is cut by the writes themselves, with no clocks involved.
 */
export function writesBetweenMarkers(rows: LoggedWrite[]): { start: number; writes: Record<string, number>; total: number } {
  const markers = rows.filter((r) => r.tbl === "enrollment_codes" && r.op === "INSERT").slice(-2);
  if (markers.length < 2) throw new Error("d1: the window's marker writes are not in the log (were the triggers installed?)");
  const [start, end] = [markers[0]!.seq, markers[1]!.seq];
  const writes: Record<string, number> = {};
  for (const r of rows) if (r.seq > start && r.seq < end) writes[`${r.tbl} ${r.op}`] = (writes[`${r.tbl} ${r.op}`] ?? 0) + 1;
  return { start, writes, total: Object.values(writes).reduce((a, b) => a + b, 0) };
}

function triggersSql(tables: string[]): string {
  const statements = [`CREATE TABLE ${LOG_TABLE} (seq INTEGER PRIMARY KEY AUTOINCREMENT, tbl TEXT NOT NULL, op TEXT NOT NULL);`];
  for (const table of tables) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(table)) throw new Error(`d1: unexpected table name ${JSON.stringify(table)}`);
    for (const op of ["INSERT", "UPDATE", "DELETE"]) {
      if (UNTRACKED.has(`${table} ${op}`)) continue;
      statements.push(
        `CREATE TRIGGER bench_w_${table}_${op.toLowerCase()} AFTER ${op} ON "${table}" ` +
          `BEGIN INSERT INTO ${LOG_TABLE} (tbl, op) VALUES ('${table}', '${op}'); END;`,
      );
    }
  }
  return `${statements.join("\n")}\n`;
}

function summarize(settings: D1Section["settings"], tables: string[], rows: LoggedWrite[], loop: LoopResult): D1Section {
  const failures: string[] = [];
  const { start, writes: steadyWrites, total: steadyWritesTotal } = writesBetweenMarkers(rows);
  const startupUpdates = rows.filter((r) => r.seq < start && r.tbl === "nodes" && r.op === "UPDATE").length;

  if (loop.answered === 0) failures.push("d1: no heartbeat acknowledged in the window");
  if (loop.silentSockets > 0) failures.push(`d1: ${loop.silentSockets} nodes got no ack in the window`);
  if (loop.closedDuringRun > 0) failures.push(`d1: ${loop.closedDuringRun} sockets closed during the run`);
  const writesPerHeartbeat = loop.answered > 0 ? steadyWritesTotal / loop.answered : 0;
  const heartbeatPart = writesPerHeartbeat * HEARTBEATS_PER_HOUR;
  return {
    settings,
    tables,
    heartbeats: loop.answered,
    loop,
    steadyWrites,
    steadyWritesTotal,
    writesPerHeartbeat,
    heartbeatPart,
    rollupPart: ROLLUP_WRITES_PER_HOUR,
    perNodeHour: heartbeatPart + ROLLUP_WRITES_PER_HOUR,
    startupWritesPerNode: startupUpdates / settings.nodes,
    target: D1_TARGET_PER_NODE_HOUR,
    failures,
  };
}
