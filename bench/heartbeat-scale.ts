/**
 * How a live node's cost grows with the fleet: the same nodes heartbeating at a steady pace
 * (every BENCH_HB_SCALE_INTERVAL_MS, 2 s: 15× production's rate, so the window holds thousands
 * of frames) at each size of BENCH_HB_SCALE_SIZES (500, 1,000, 2,000, 4,000; a size beyond what
 * the open-file limit allows is cut to what it does), and per size:
 *
 *   heartbeat_cpu_us_per_frame  workerd CPU in the window ÷ heartbeats answered in it
 *   edge_mb_per_node            (workerd RSS with every socket open and heartbeating − its RSS
 *                               on the same edge before the first socket) ÷ nodes
 *   heartbeat_cpu_growth        per-frame CPU at the largest size ÷ at the smallest (target ≤ 1.2:
 *                               cost grows linearly with the fleet, not faster)
 *
 * Paced, not closed loop: a real fleet sends at a fixed interval, so the rate grows with the
 * fleet and every size stays below the edge's capacity (a saturated edge measures its queue).
 * Each size gets a fresh edge on the same state (the nodes enrolled once), so one size's
 * objects and memory are not the next one's baseline. The edge runs on Miniflare directly
 * (startLocalEdge's `direct`): under `wrangler dev` a second workerd, its proxy, carries every
 * socket and frame too, and its cost would be counted with the Worker's.
 */
import { readdirSync } from "node:fs";
import { rm } from "node:fs/promises";
import path from "node:path";
import { REPO_ROOT, type LocalEdge } from "../scripts/local-edge.ts";
import { startEdge, stopEdge } from "./edges.ts";
import { raiseFdLimit, type FdLimit } from "./fd-limit.ts";
import { enrollFleet } from "./fleet.ts";
import { heartbeatFrame } from "./payload.ts";
import { edgeRootPid, sampleTree, type TreeSample } from "./proc-tree.ts";
import { log, positiveInt, round, sleep } from "./settings.ts";
import { closeFleet, openFleet, startLoop, type Member } from "./ws-fleet.ts";

export const HEARTBEAT_CPU_GROWTH_TARGET = 1.2;
/** Given to each restart, so the already migrated D1 is not migrated again. */
const WRANGLER_TOML = path.join(REPO_ROOT, "wrangler.toml");
const ENROLL_CONCURRENCY = 32;
const OPEN = { concurrency: 64, handshakeTimeoutMs: 30_000, deadlineMs: 180_000 };
/** Before the window: every socket answered once (its first heartbeat writes its first state), then this long steady. */
const STEADY_BEFORE_WINDOW_MS = 10_000;
const MAX_FIRST_ANSWERS_MS = 90_000;
/**
 * Local workerd holds about 5 files open per connected node (its socket and its object's SQLite
 * database, journal and shared memory; measured: 5,050 at 1,000 nodes, 15,050 at 3,000). A size
 * that would not fit in the open-file limit is cut to one that does, and the figures say so.
 */
const OPEN_FILES_PER_NODE = 5;
/** Before the idle RSS sample: the fresh edge settles after its start. */
const SETTLE_MS = 3_000;

export type ScaleStep = {
  nodes: number;
  connected: number;
  openSeconds: number;
  framesPerSecond: number;
  answered: number;
  p99Ms: number;
  workerdCpuUsPerFrame: number | null;
  /** The edge server's own Node process (Miniflare's host side), for information. */
  nodeCpuUsPerFrame: number | null;
  workerdIdleMb: number | null;
  workerdLoadedMb: number | null;
  mbPerNode: number | null;
  /** Files workerd holds open with every socket open (each node: its socket and its object's SQLite files). */
  workerdOpenFiles: number | null;
  problems: string[];
};

export type HeartbeatScaleFigures = {
  heartbeat_scale_interval_ms: number;
  heartbeat_scale_sizes: number[];
  /** Why a size asked for was cut to what the machine's open-file limit allows, if one was. */
  heartbeat_scale_capped: string | null;
  heartbeat_cpu_us_per_frame: Record<string, number | null>;
  edge_mb_per_node: Record<string, number | null>;
  heartbeat_cpu_growth: number | null;
  heartbeat_cpu_growth_target: number;
  heartbeat_scale_steps: ScaleStep[];
  fd_limit: FdLimit;
  failures: string[];
};

export async function benchHeartbeatScale(): Promise<HeartbeatScaleFigures> {
  const asked = scaleSizes(process.env.BENCH_HB_SCALE_SIZES);
  const intervalMs = positiveInt("BENCH_HB_SCALE_INTERVAL_MS", 2000);
  const windowMs = positiveInt("BENCH_HB_SCALE_WINDOW", 20) * 1000;
  const fdLimit = raiseFdLimit();
  // No limit known (not Linux): every size as asked.
  const fitting = fdLimit.soft === null ? Number.POSITIVE_INFINITY : Math.floor((fdLimit.soft * 0.95) / OPEN_FILES_PER_NODE / 100) * 100;
  const sizes = [...new Set(asked.map((n) => Math.min(n, fitting)))];
  const cut = asked.filter((n) => n > fitting);
  const capped = cut.length
    ? `${cut.join(", ")} nodes asked; ${fitting} run instead: local workerd holds about ${OPEN_FILES_PER_NODE} files open per node and the open-file limit here is ${fdLimit.soft}`
    : null;
  if (capped) log(`heartbeat-scale: ${capped}`);
  log(
    `heartbeat-scale: sizes ${sizes.join(", ")}, a heartbeat every ${intervalMs} ms per node; open files ${fdLimit.soft}/${fdLimit.hard}`,
  );

  const largest = Math.max(...sizes);
  const enrolling = await startEdge({ direct: true });
  let members: Member[];
  try {
    const nodes = await enrollFleet(enrolling, largest, ENROLL_CONCURRENCY);
    members = nodes.map((node) => ({ key: node.key, frame: heartbeatFrame(node.nodeId) }));
    log(`heartbeat-scale: ${nodes.length} nodes enrolled`);
  } finally {
    await stopEdge(enrolling, { keepState: true });
  }

  const steps: ScaleStep[] = [];
  try {
    for (const size of sizes) {
      const edge = await startEdge({
        direct: true,
        persistDir: enrolling.persistDir,
        adminToken: enrolling.adminToken,
        config: WRANGLER_TOML,
      });
      try {
        steps.push(await measureSize(edge, members.slice(0, size), intervalMs, windowMs));
      } finally {
        await stopEdge(edge, { keepState: true });
      }
    }
  } finally {
    await rm(enrolling.persistDir, { recursive: true, force: true });
  }

  const measured = steps.filter((s) => s.workerdCpuUsPerFrame !== null && s.problems.length === 0);
  const [first, last] = [measured[0], measured.at(-1)];
  const growth =
    first && last && first !== last && first.workerdCpuUsPerFrame
      ? round(last.workerdCpuUsPerFrame! / first.workerdCpuUsPerFrame, 3)
      : null;
  return {
    heartbeat_scale_interval_ms: intervalMs,
    heartbeat_scale_sizes: sizes,
    heartbeat_scale_capped: capped,
    heartbeat_cpu_us_per_frame: Object.fromEntries(steps.map((s) => [String(s.nodes), s.workerdCpuUsPerFrame])),
    edge_mb_per_node: Object.fromEntries(steps.map((s) => [String(s.nodes), s.mbPerNode])),
    heartbeat_cpu_growth: growth,
    heartbeat_cpu_growth_target: HEARTBEAT_CPU_GROWTH_TARGET,
    heartbeat_scale_steps: steps,
    fd_limit: fdLimit,
    failures: steps.flatMap((s) => s.problems.map((p) => `heartbeat-scale ${s.nodes}: ${p}`)),
  };
}

async function measureSize(edge: LocalEdge, members: Member[], intervalMs: number, windowMs: number): Promise<ScaleStep> {
  const root = edgeRootPid(edge.url);
  await sleep(SETTLE_MS);
  const idle = root === null ? null : sampleTree(root);
  log(`heartbeat-scale ${members.length}: opening the sockets`);
  const fleet = await openFleet(edge.url, members, OPEN);
  const step: ScaleStep = {
    nodes: members.length,
    connected: fleet.sockets.length,
    openSeconds: round(fleet.openSeconds, 1),
    framesPerSecond: 0,
    answered: 0,
    p99Ms: 0,
    workerdCpuUsPerFrame: null,
    nodeCpuUsPerFrame: null,
    workerdIdleMb: mbOf(idle),
    workerdLoadedMb: null,
    mbPerNode: null,
    workerdOpenFiles: null,
    problems: [],
  };
  try {
    if (fleet.sockets.length < members.length) {
      const why = Object.entries(fleet.failures).map(([reason, n]) => `${n} × ${reason}`);
      step.problems.push(`only ${fleet.sockets.length} of ${members.length} sockets opened (${why.join(", ")})`);
    }
    if (fleet.sockets.length === 0) return step;
    const loop = startLoop(fleet, { kind: "paced", intervalMs }, (m) => m.includes('"type":"heartbeat_ack"'));
    try {
      const firstAnswersBy = performance.now() + MAX_FIRST_ANSWERS_MS;
      while (loop.answeredOnce() < fleet.sockets.length && performance.now() < firstAnswersBy) await sleep(250);
      await sleep(STEADY_BEFORE_WINDOW_MS);
      const before = root === null ? null : sampleTree(root);
      step.workerdOpenFiles = openFilesOf(workerdPid(before));
      loop.beginWindow();
      await sleep(windowMs);
      const result = loop.endWindow();
      const after = root === null ? null : sampleTree(root);
      step.answered = result.answered;
      step.framesPerSecond = round(result.perSecond, 1);
      step.p99Ms = result.p99Ms;
      if (before && after && result.answered > 0) {
        step.workerdCpuUsPerFrame = usPerFrame(before, after, "workerd", result.answered);
        step.nodeCpuUsPerFrame = usPerFrame(before, after, "node", result.answered);
      }
      step.workerdLoadedMb = mbOf(after);
      if (step.workerdIdleMb !== null && step.workerdLoadedMb !== null) {
        step.mbPerNode = round((step.workerdLoadedMb - step.workerdIdleMb) / fleet.sockets.length, 4);
      }
      if (workerdPid(after) !== workerdPid(idle)) step.problems.push("workerd exited during the run (out of memory or open files?)");
      if (result.unexpected > 0) step.problems.push(`${result.unexpected} unexpected frames (errors) in the window`);
      if (result.closedDuringRun > 0) step.problems.push(`${result.closedDuringRun} sockets closed during the run`);
      if (result.silentSockets > 0) step.problems.push(`${result.silentSockets} sockets had no answer in the window`);
    } finally {
      loop.stop();
    }
    log(
      `heartbeat-scale ${members.length}: ${step.framesPerSecond} frames/s, workerd ${step.workerdCpuUsPerFrame} µs per frame, ` +
        `${step.mbPerNode} MB per node (workerd ${step.workerdIdleMb} → ${step.workerdLoadedMb} MB, ${step.workerdOpenFiles} open files), p99 ${step.p99Ms} ms` +
        (step.problems.length ? `; ${step.problems.join("; ")}` : ""),
    );
    return step;
  } finally {
    await closeFleet(fleet);
  }
}

/** BENCH_HB_SCALE_SIZES=500,1000,2000,4000 (the default): ascending, at least two sizes. */
export function scaleSizes(raw: string | undefined): number[] {
  if (raw === undefined || raw.trim() === "") return [500, 1000, 2000, 4000];
  const sizes = raw.split(",").map((s) => Number(s.trim()));
  if (sizes.length < 2 || sizes.some((n) => !Number.isInteger(n) || n <= 0)) {
    throw new Error(`BENCH_HB_SCALE_SIZES must be two or more positive integers, comma-separated, got ${JSON.stringify(raw)}`);
  }
  return [...new Set(sizes)].sort((a, b) => a - b);
}

function usPerFrame(before: TreeSample, after: TreeSample, command: string, frames: number): number | null {
  const used = (after.cpuByCommand[command] ?? 0) - (before.cpuByCommand[command] ?? 0);
  return command in after.cpuByCommand ? round((used / frames) * 1e6, 1) : null;
}

function workerdPid(sample: TreeSample | null): number | null {
  const i = sample?.commands.indexOf("workerd") ?? -1;
  return i >= 0 ? sample!.pids[i]! : null;
}

function openFilesOf(pid: number | null): number | null {
  try {
    return pid === null ? null : readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return null;
  }
}

function mbOf(sample: TreeSample | null): number | null {
  const mb = sample?.rssMbByCommand.workerd;
  return mb === undefined ? null : round(mb, 1);
}

export function printHeartbeatScale(f: HeartbeatScaleFigures): void {
  console.log(
    `\nHeartbeat cost by fleet size (a heartbeat every ${f.heartbeat_scale_interval_ms} ms per node; workerd on Miniflare directly)`,
  );
  const rows = f.heartbeat_scale_steps.map((s) => [
    String(s.nodes),
    `${s.connected}`,
    String(s.framesPerSecond),
    String(s.workerdCpuUsPerFrame ?? "-"),
    `${s.workerdIdleMb ?? "-"} → ${s.workerdLoadedMb ?? "-"}`,
    String(s.mbPerNode ?? "-"),
    String(s.workerdOpenFiles ?? "-"),
    String(s.p99Ms),
  ]);
  const lines = [["nodes", "connected", "frames/s", "workerd µs/frame", "workerd MB", "MB per node", "open files", "p99 ms"], ...rows];
  const widths = lines[0]!.map((_, c) => Math.max(...lines.map((line) => line[c]!.length)));
  for (const line of lines) console.log(line.map((cell, c) => cell.padStart(widths[c]!)).join("  "));
  if (f.heartbeat_scale_capped) console.log(f.heartbeat_scale_capped);
  const g = f.heartbeat_cpu_growth;
  console.log(
    `per-frame CPU, largest / smallest = ${g ?? "-"}  (target <= ${f.heartbeat_cpu_growth_target}: ${g === null ? "NOT MEASURED" : g <= f.heartbeat_cpu_growth_target ? "MET" : "NOT MET"})`,
  );
}
