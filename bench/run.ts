/**
 * `npm run bench`: requests/s and p99 of `POST /api/node/telemetry` on the real edge,
 * against a hello-world Worker under the same runtime (wrangler dev / workerd) and the same
 * load generator, measured one after the other in the same run. The headline is the ratio
 * ingest/hello (target >= 0.5), because absolute figures on shared 2-core machines are noise.
 *
 * Exits 0 whether or not the target is met; exits 1 only when the run itself is not a
 * measurement of ingest (non-2xx answers, socket errors, an edge that would not start).
 *
 * Settings (env): BENCH_DURATION (s, default 15), BENCH_WARMUP (s, default 3),
 * BENCH_CONNECTIONS (default 10).
 */
import { readFile, rm } from "node:fs/promises";
import path from "node:path";
import { REPO_ROOT, startLocalEdge, type LocalEdge } from "../scripts/local-edge.ts";
import { NodeKeyPool, REQUESTS_PER_NODE } from "./fleet.ts";
import { runLoad, type LoadResult, type LoadTarget } from "./load.ts";
import { crashReportBody, TELEMETRY_PATH, telemetryHeaders } from "./payload.ts";
import { printTable, writeResults, type BenchReport } from "./report.ts";

const TARGET_RATIO = 0.5;
const HELLO_CONFIG = path.join(REPO_ROOT, "bench", "hello", "wrangler.toml");
/** Nodes enrolled before anything is known: room for this many requests/s during warm-up. */
const WARMUP_RPS_ALLOWANCE = 2000;
/** Nodes for the measurement: room for this many times the warm-up's rate. */
const MEASURE_HEADROOM = 2.5;

const settings = {
  connections: positiveInt("BENCH_CONNECTIONS", 10),
  durationSeconds: positiveInt("BENCH_DURATION", 15),
  warmupSeconds: positiveInt("BENCH_WARMUP", 3),
};

const edges: LocalEdge[] = [];
let stopping: Promise<unknown> | undefined;
/** Stops both Workers and removes the temp dirs startLocalEdge made for their state (the bench owns them). */
const stopEdges = () =>
  (stopping ??= Promise.allSettled(
    edges.map(async (edge) => {
      await edge.stop();
      await rm(edge.persistDir, { recursive: true, force: true });
    }),
  ));

// The edges run in process groups of their own, so Ctrl-C does not reach them: take them down here.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    console.error(`\n${signal}: stopping the local edges`);
    void stopEdges().then(() => process.exit(130));
  });
}

try {
  process.exitCode = (await bench()) ? 0 : 1;
} catch (error) {
  console.error(`bench: ${(error as Error).stack ?? String(error)}`);
  process.exitCode = 1;
} finally {
  await stopEdges();
}

/** True when the run measured what it meant to (whether or not the target was met). */
async function bench(): Promise<boolean> {
  log("starting the edge and the hello-world Worker (wrangler dev)");
  const [ingestEdge, helloEdge] = await startBoth();

  const pool = await NodeKeyPool.create(ingestEdge);
  await pool.ensureRoomFor(WARMUP_RPS_ALLOWANCE * settings.warmupSeconds);
  log(`enrolled ${pool.size} nodes for the warm-up`);

  // Same request to both: the baseline gets the same crash-report JSON and headers (a real
  // node key, which it ignores), so body size, parsing on the client and transfer are equal.
  let helloKey = 0;
  const hello: LoadTarget = {
    url: helloEdge.url,
    path: TELEMETRY_PATH,
    next: () => ({ headers: telemetryHeaders(pool.anyKey(helloKey++)), body: crashReportBody() }),
  };
  const ingest: LoadTarget = {
    url: ingestEdge.url,
    path: TELEMETRY_PATH,
    next: () => ({ headers: telemetryHeaders(pool.next()), body: crashReportBody() }),
  };
  const warm = { connections: settings.connections, durationSeconds: settings.warmupSeconds };
  const measure = { connections: settings.connections, durationSeconds: settings.durationSeconds };

  // Hello first: the ingest run leaves triage work in the queue consumer that would
  // otherwise compete with the baseline for the same two cores.
  log(`hello: warm-up ${settings.warmupSeconds} s`);
  const helloWarmup = await runLoad(hello, warm);
  log(`hello: measuring ${settings.durationSeconds} s`);
  const helloResult = await runLoad(hello, measure);

  log(`ingest: warm-up ${settings.warmupSeconds} s`);
  const ingestWarmup = await runLoad(ingest, warm);
  warnIfNot2xx("ingest warm-up", ingestWarmup);
  await pool.ensureRoomFor(Math.ceil(ingestWarmup.requestsPerSecond * MEASURE_HEADROOM * settings.durationSeconds));
  log(`ingest: ${pool.size} nodes enrolled; measuring ${settings.durationSeconds} s`);
  const overBudgetBefore = pool.overBudget;
  const ingestResult = await runLoad(ingest, measure);

  const failures = [
    ...problems("ingest", ingestResult),
    ...problems("hello", helloResult),
    ...(pool.overBudget > overBudgetBefore
      ? [`${pool.overBudget - overBudgetBefore} ingest requests ran out of node budget (enroll more nodes)`]
      : []),
  ];
  const report: BenchReport = {
    settings,
    hello: helloResult,
    ingest: ingestResult,
    warmup: { hello: helloWarmup, ingest: ingestWarmup },
    nodes: pool.size,
    requestsPerNode: REQUESTS_PER_NODE,
    targetRatio: TARGET_RATIO,
    failures,
  };
  printTable(report);
  await writeResults(report, await wranglerVersion());
  return failures.length === 0;
}

/** Starts both Workers at once (startup is not measured); stops whichever started if one fails. */
async function startBoth(): Promise<[LocalEdge, LocalEdge]> {
  const started = await Promise.allSettled([startLocalEdge(), startLocalEdge({ config: HELLO_CONFIG })]);
  for (const outcome of started) if (outcome.status === "fulfilled") edges.push(outcome.value);
  const failed = started.find((outcome) => outcome.status === "rejected");
  if (failed) throw failed.reason;
  return [edges[0]!, edges[1]!];
}

function problems(name: string, r: LoadResult): string[] {
  const found: string[] = [];
  if (r.completed === 0) found.push(`${name}: no request completed`);
  if (r.non2xx > 0) found.push(`${name}: ${r.non2xx} non-2xx answers (${JSON.stringify(r.statusCodes)})`);
  if (r.errors > 0) found.push(`${name}: ${r.errors} socket errors`);
  if (r.timeouts > 0) found.push(`${name}: ${r.timeouts} timeouts`);
  return found;
}

function warnIfNot2xx(name: string, r: LoadResult): void {
  for (const problem of problems(name, r)) log(`warning: ${problem}`);
}

async function wranglerVersion(): Promise<string> {
  try {
    const pkg = JSON.parse(await readFile(path.join(REPO_ROOT, "node_modules", "wrangler", "package.json"), "utf8")) as {
      version: string;
    };
    return pkg.version;
  } catch {
    return "unknown";
  }
}

function positiveInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  return value;
}

function log(message: string): void {
  console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);
}
