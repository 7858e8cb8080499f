/**
 * Requests/s and p99 of `POST /api/node/telemetry` on the real edge, against two baselines under
 * the same runtime (workerd through Miniflare, without wrangler dev's proxy) and the same load generator, measured one after the
 * other, because absolute figures on shared 2-core machines are noise:
 *   - the naive endpoint (bench/naive): the same route as a first implementation would write it on
 *     the same D1 schema (node looked up by its key in D1, row inserted, 202; crash reports also
 *     queued and triaged by the real consumer in the same workerd). The targets: real ÷ naive
 *     >= 0.9 (moonshot 1.0) for crash reports and for non-critical reports;
 *   - a hello-world Worker (bench/hello), the floor of the runtime: shown for information.
 *
 * Two kinds of report, each against both baselines with the same bodies and node keys:
 *   - crash reports: critical, so each one is also put on the triage queue and triaged by the
 *     queue consumer in the same workerd, on the same cores;
 *   - non-critical reports (connection_degraded, error, health in turn): stored, no queue.
 * Also CPU per answered request of the edge's processes (workerd; node = the Miniflare host), which
 * the machine's other load moves less than requests/s; and what the local emulation of the
 * rate-limit binding costs per call (a Durable Object with a SQLite write in Miniflare, not in
 * production): the naive Worker's one-call probe route minus its answer-only route. The real
 * endpoint keeps its rate limit in the figures; that cost is shown beside them.
 *
 * Run order: hello, the probes, then naive and real side by side per kind of report, crash
 * reports last; the naive edge is stopped after its crash reports, so that the triage it still
 * has queued does not compete with the real edge's crash-report run.
 *
 * Every Worker runs on Miniflare directly (scripts/edge-server.ts), as the heartbeat part does:
 * under wrangler dev its proxy, a second workerd, carried every request of both sides, and its
 * local observability and DevTools inspector proxy added dev-only work to each log line. The
 * edge still writes its one JSON log line per request, which workerd writes to stdout and the
 * Miniflare host reads; in production Workers Logs collects it outside the isolate.
 *
 * Settings (env): BENCH_DURATION (s, default 15), BENCH_WARMUP (s, default 3),
 * BENCH_CONNECTIONS (default 10).
 */
import path from "node:path";
import type { LocalEdge } from "../scripts/local-edge.ts";
import { REPO_ROOT } from "../scripts/local-edge.ts";
import { startEdges, stopEdge } from "./edges.ts";
import { startNaiveEdge } from "./naive-edge.ts";
import { NodeKeyPool, REQUESTS_PER_NODE } from "./fleet.ts";
import { runLoad, type LoadResult, type LoadSettings, type LoadTarget } from "./load.ts";
import { crashReportBody, nonCriticalBody, TELEMETRY_PATH, telemetryHeaders } from "./payload.ts";
import { edgeRootPid, sampleTree } from "./proc-tree.ts";
import { log, positiveInt } from "./settings.ts";

/** Real ÷ naive, by requests/s, for crash reports and for non-critical reports. */
export const INGEST_TARGET_RATIO_VS_NAIVE = 0.9;
export const INGEST_MOONSHOT_RATIO_VS_NAIVE = 1.0;
const HELLO_CONFIG = path.join(REPO_ROOT, "bench", "hello", "wrangler.toml");
/** The probe routes of the naive Worker (bench/naive/index.ts). */
const PROBE_ANSWER_PATH = "/api/bench/answer";
const PROBE_RATE_LIMIT_PATH = "/api/bench/rate-limit";
/** Nodes enrolled before anything is known: room for this many requests/s during warm-up. */
const WARMUP_RPS_ALLOWANCE = 2000;
/** Nodes for the measurement: room for this many times the warm-up's rate. */
const MEASURE_HEADROOM = 2.5;

/** A measured run plus the CPU the target's process tree spent per answered request. */
export type Measured = LoadResult & {
  /** µs of CPU per answered request, by process name (workerd, node = the Miniflare host). */
  cpuUsPerRequest: Record<string, number> | null;
  /** µs of CPU per answered request of this process, where autocannon runs (the load generator). */
  clientCpuUsPerRequest: number;
};

export type IngestSection = {
  settings: { connections: number; durationSeconds: number; warmupSeconds: number };
  /** Crash reports: the real endpoint and its baselines. */
  hello: Measured;
  naive: Measured;
  ingest: Measured;
  /** Non-critical reports (no triage queue), the same three. */
  helloNonCritical: Measured;
  naiveNonCritical: Measured;
  ingestNonCritical: Measured;
  /** The naive Worker's probe routes (non-critical bodies): answer only, and one rate-limit call then answer. */
  rateLimitProbe: { answer: Measured; rateLimited: Measured };
  warmup: Record<"hello" | "naive" | "ingest" | "helloNonCritical" | "naiveNonCritical" | "ingestNonCritical", LoadResult>;
  nodes: number;
  /** Nodes copied into the naive Worker's D1 (the keys it is sent, round-robin). */
  naiveNodes: number;
  requestsPerNode: number;
  targetRatioVsNaive: number;
  moonshotRatioVsNaive: number;
  /** Why the run does not count (empty when it does). */
  failures: string[];
};

export async function benchIngest(): Promise<IngestSection> {
  const settings = {
    connections: positiveInt("BENCH_CONNECTIONS", 10),
    durationSeconds: positiveInt("BENCH_DURATION", 15),
    warmupSeconds: positiveInt("BENCH_WARMUP", 3),
  };
  log("ingest: starting the edge and the hello-world Worker (Miniflare directly)");
  const [ingestEdge, helloEdge] = await startEdges([{ direct: true }, { config: HELLO_CONFIG, direct: true }]);
  let naiveEdge: LocalEdge | undefined;
  try {
    const pool = await NodeKeyPool.create(ingestEdge!);
    await pool.ensureRoomFor(WARMUP_RPS_ALLOWANCE * settings.warmupSeconds * 2);
    log(`ingest: enrolled ${pool.size} nodes for the warm-ups; starting the naive Worker with the same nodes`);
    const naiveKeys = [...pool.keys()];
    naiveEdge = await startNaiveEdge(pool);

    // Same request to every target: the baselines get the same JSON and headers (a real node
    // key; hello ignores it, naive looks it up), so body size, parsing on the client and transfer
    // are equal. Only the real edge spends a node's rate-limit budget.
    let spare = 0;
    const target = (edge: LocalEdge, body: () => string, key: () => string, path = TELEMETRY_PATH): LoadTarget => ({
      url: edge.url,
      path,
      next: () => ({ headers: telemetryHeaders(key()), body: body() }),
    });
    const budgeted = () => pool.next();
    const anyKey = () => pool.anyKey(spare++);
    const naiveKey = () => naiveKeys[spare++ % naiveKeys.length]!;
    const warm = { connections: settings.connections, durationSeconds: settings.warmupSeconds };
    const measure = { connections: settings.connections, durationSeconds: settings.durationSeconds };
    let overBudget = 0;
    const ingestRun = async (name: string, t: LoadTarget) => {
      log(`${name}: warm-up ${settings.warmupSeconds} s`);
      const warmup = await runLoad(t, warm);
      for (const problem of problems(`${name} warm-up`, warmup)) log(`warning: ${problem}`);
      await pool.ensureRoomFor(Math.ceil(warmup.requestsPerSecond * MEASURE_HEADROOM * settings.durationSeconds));
      log(`${name}: ${pool.size} nodes enrolled; measuring ${settings.durationSeconds} s`);
      const before = pool.overBudget;
      const result = await measured(ingestEdge!, t, measure);
      overBudget += pool.overBudget - before;
      return { warmup, result };
    };
    const baselineRun = async (name: string, edge: LocalEdge, t: LoadTarget) => {
      log(`${name}: warm-up ${settings.warmupSeconds} s, then measuring ${settings.durationSeconds} s`);
      const warmup = await runLoad(t, warm);
      for (const problem of problems(`${name} warm-up`, warmup)) log(`warning: ${problem}`);
      return { warmup, result: await measured(edge, t, measure) };
    };

    const hello = await baselineRun("hello (crash-report bodies)", helloEdge!, target(helloEdge!, crashReportBody, anyKey));
    const helloNonCritical = await baselineRun("hello (non-critical bodies)", helloEdge!, target(helloEdge!, nonCriticalBody, anyKey));
    const answer = await baselineRun("probe: answer only", naiveEdge, target(naiveEdge, nonCriticalBody, naiveKey, PROBE_ANSWER_PATH));
    const rateLimited = await baselineRun(
      "probe: one rate-limit call",
      naiveEdge,
      target(naiveEdge, nonCriticalBody, naiveKey, PROBE_RATE_LIMIT_PATH),
    );
    const naiveNonCritical = await baselineRun("naive non-critical", naiveEdge, target(naiveEdge, nonCriticalBody, naiveKey));
    const ingestNonCritical = await ingestRun("ingest non-critical", target(ingestEdge!, nonCriticalBody, budgeted));
    // Crash reports leave triage work in each edge's queue consumer: the naive edge is stopped
    // before the real edge's run, and the real edge's run is the last.
    const naive = await baselineRun("naive crash reports", naiveEdge, target(naiveEdge, crashReportBody, naiveKey));
    await stopEdge(naiveEdge);
    const ingest = await ingestRun("ingest crash reports", target(ingestEdge!, crashReportBody, budgeted));

    return {
      settings,
      hello: hello.result,
      naive: naive.result,
      ingest: ingest.result,
      helloNonCritical: helloNonCritical.result,
      naiveNonCritical: naiveNonCritical.result,
      ingestNonCritical: ingestNonCritical.result,
      rateLimitProbe: { answer: answer.result, rateLimited: rateLimited.result },
      warmup: {
        hello: hello.warmup,
        naive: naive.warmup,
        ingest: ingest.warmup,
        helloNonCritical: helloNonCritical.warmup,
        naiveNonCritical: naiveNonCritical.warmup,
        ingestNonCritical: ingestNonCritical.warmup,
      },
      nodes: pool.size,
      naiveNodes: naiveKeys.length,
      requestsPerNode: REQUESTS_PER_NODE,
      targetRatioVsNaive: INGEST_TARGET_RATIO_VS_NAIVE,
      moonshotRatioVsNaive: INGEST_MOONSHOT_RATIO_VS_NAIVE,
      failures: [
        ...problems("ingest", ingest.result),
        ...problems("naive", naive.result),
        ...problems("hello", hello.result),
        ...problems("ingest non-critical", ingestNonCritical.result),
        ...problems("naive non-critical", naiveNonCritical.result),
        ...problems("hello non-critical", helloNonCritical.result),
        ...problems("probe: answer only", answer.result),
        ...problems("probe: one rate-limit call", rateLimited.result),
        ...(overBudget > 0 ? [`${overBudget} ingest requests ran out of node budget (enroll more nodes)`] : []),
      ],
    };
  } finally {
    await Promise.allSettled([stopEdge(ingestEdge!), stopEdge(helloEdge!), ...(naiveEdge ? [stopEdge(naiveEdge)] : [])]);
  }
}

async function measured(edge: LocalEdge, target: LoadTarget, settings: LoadSettings): Promise<Measured> {
  const root = edgeRootPid(edge.url);
  const before = root === null ? null : sampleTree(root);
  const client = process.cpuUsage();
  const result = await runLoad(target, settings);
  const clientUsed = process.cpuUsage(client);
  const after = root === null ? null : sampleTree(root);
  let cpuUsPerRequest: Record<string, number> | null = null;
  if (before && after && result.completed > 0) {
    cpuUsPerRequest = {};
    for (const [command, cpu] of Object.entries(after.cpuByCommand)) {
      cpuUsPerRequest[command] = Math.round(((cpu - (before.cpuByCommand[command] ?? 0)) / result.completed) * 1e6);
    }
  }
  const clientCpuUsPerRequest = result.completed > 0 ? Math.round((clientUsed.user + clientUsed.system) / result.completed) : 0;
  return { ...result, cpuUsPerRequest, clientCpuUsPerRequest };
}

function problems(name: string, r: LoadResult): string[] {
  const found: string[] = [];
  if (r.completed === 0) found.push(`${name}: no request completed`);
  if (r.non2xx > 0) found.push(`${name}: ${r.non2xx} non-2xx answers (${JSON.stringify(r.statusCodes)})`);
  if (r.errors > 0) found.push(`${name}: ${r.errors} socket errors`);
  if (r.timeouts > 0) found.push(`${name}: ${r.timeouts} timeouts`);
  return found;
}
