/**
 * Requests/s and p99 of `POST /api/node/telemetry` on the real edge, against a hello-world
 * Worker under the same runtime (wrangler dev / workerd) and the same load generator, measured
 * one after the other. The headline is the ratio ingest/hello (target >= 0.5), because absolute
 * figures on shared 2-core machines are noise.
 *
 * Two kinds of report, each against the hello-world Worker POSTed the same bodies:
 *   - crash reports (the headline, as since the first run): critical, so each one is also put on
 *     the triage queue and triaged by the queue consumer in the same workerd, on the same cores;
 *   - non-critical reports (connection_degraded, error, health in turn): stored and logged, no
 *     queue. Ingest alone: validate, authenticate, rate-limit, store, log.
 * Also CPU per answered request of the edge's processes (workerd; node = wrangler itself), which
 * the machine's other load moves less than requests/s.
 *
 * Both Workers run with two dev-only parts of wrangler dev switched off (BENCH_INGEST_DEVTOOLS=1
 * turns them back on for both, to see what they cost):
 *   - local observability (X_LOCAL_OBSERVABILITY=false): a trace of every invocation and every
 *     console.log streamed into a SQLite trace store in the same workerd;
 *   - the DevTools inspector proxy: wrangler dev connects it to the runtime whether or not a
 *     DevTools window is open, and then every console.log becomes a CDP message into the proxy
 *     Worker, which POSTs a debug-log copy of it to wrangler's Node process (~0.7 ms of Node CPU
 *     per log line, measured). wrangler dev has no flag for this; it leaves the proxy out when
 *     VSCODE_INSPECTOR_OPTIONS is set (VS Code's debug terminal), so that is what is set.
 * Neither exists in production, where Workers Logs collects the request's log line outside
 * the isolate. The edge still writes its one JSON log line per request; workerd still writes
 * it to stdout and wrangler still reads and parses it.
 *
 * Settings (env): BENCH_DURATION (s, default 15), BENCH_WARMUP (s, default 3),
 * BENCH_CONNECTIONS (default 10), BENCH_INGEST_DEVTOOLS=1.
 */
import path from "node:path";
import type { LocalEdge } from "../scripts/local-edge.ts";
import { REPO_ROOT } from "../scripts/local-edge.ts";
import { startEdges, stopEdge } from "./edges.ts";
import { NodeKeyPool, REQUESTS_PER_NODE } from "./fleet.ts";
import { runLoad, type LoadResult, type LoadSettings, type LoadTarget } from "./load.ts";
import { crashReportBody, nonCriticalBody, TELEMETRY_PATH, telemetryHeaders } from "./payload.ts";
import { edgeRootPid, sampleTree } from "./proc-tree.ts";
import { log, positiveInt } from "./settings.ts";

export const INGEST_TARGET_RATIO = 0.5;
const HELLO_CONFIG = path.join(REPO_ROOT, "bench", "hello", "wrangler.toml");
/** Nodes enrolled before anything is known: room for this many requests/s during warm-up. */
const WARMUP_RPS_ALLOWANCE = 2000;
/** Nodes for the measurement: room for this many times the warm-up's rate. */
const MEASURE_HEADROOM = 2.5;

/** A measured run plus the CPU the target's process tree spent per answered request. */
export type Measured = LoadResult & {
  /** µs of CPU per answered request, by process name (workerd, node = wrangler itself). */
  cpuUsPerRequest: Record<string, number> | null;
  /** µs of CPU per answered request of this process, where autocannon runs (the load generator). */
  clientCpuUsPerRequest: number;
};

export type IngestSection = {
  settings: { connections: number; durationSeconds: number; warmupSeconds: number; devtools: boolean };
  /** Crash reports: the headline pair. */
  hello: Measured;
  ingest: Measured;
  /** Non-critical reports (no triage queue) and the hello-world Worker POSTed the same bodies. */
  helloNonCritical: Measured;
  ingestNonCritical: Measured;
  warmup: { hello: LoadResult; ingest: LoadResult; helloNonCritical: LoadResult; ingestNonCritical: LoadResult };
  nodes: number;
  requestsPerNode: number;
  targetRatio: number;
  /** Why the run does not count (empty when it does). */
  failures: string[];
};

export async function benchIngest(): Promise<IngestSection> {
  const settings = {
    connections: positiveInt("BENCH_CONNECTIONS", 10),
    durationSeconds: positiveInt("BENCH_DURATION", 15),
    warmupSeconds: positiveInt("BENCH_WARMUP", 3),
    devtools: process.env.BENCH_INGEST_DEVTOOLS === "1",
  };
  log(`ingest: starting the edge and the hello-world Worker (wrangler dev, devtools ${settings.devtools ? "on" : "off"})`);
  const env: Record<string, string> = settings.devtools ? {} : { X_LOCAL_OBSERVABILITY: "false", VSCODE_INSPECTOR_OPTIONS: "{}" };
  const [ingestEdge, helloEdge] = await startEdges([{}, { config: HELLO_CONFIG }], env);
  try {
    const pool = await NodeKeyPool.create(ingestEdge!);
    await pool.ensureRoomFor(WARMUP_RPS_ALLOWANCE * settings.warmupSeconds * 2);
    log(`ingest: enrolled ${pool.size} nodes for the warm-ups`);

    // Same request to both: the baseline gets the same JSON and headers (a real node key,
    // which it ignores), so body size, parsing on the client and transfer are equal.
    let helloKey = 0;
    const target = (edge: LocalEdge, body: () => string, spendsBudget: boolean): LoadTarget => ({
      url: edge.url,
      path: TELEMETRY_PATH,
      next: () => ({ headers: telemetryHeaders(spendsBudget ? pool.next() : pool.anyKey(helloKey++)), body: body() }),
    });
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
    const helloRun = async (name: string, t: LoadTarget) => {
      log(`${name}: warm-up ${settings.warmupSeconds} s, then measuring ${settings.durationSeconds} s`);
      const warmup = await runLoad(t, warm);
      return { warmup, result: await measured(helloEdge!, t, measure) };
    };

    // Hello runs first and crash reports last: crash reports leave triage work in the queue
    // consumer that would otherwise compete with the other runs for the same two cores.
    const hello = await helloRun("hello (crash-report bodies)", target(helloEdge!, crashReportBody, false));
    const helloNonCritical = await helloRun("hello (non-critical bodies)", target(helloEdge!, nonCriticalBody, false));
    const ingestNonCritical = await ingestRun("ingest non-critical", target(ingestEdge!, nonCriticalBody, true));
    const ingest = await ingestRun("ingest crash reports", target(ingestEdge!, crashReportBody, true));

    return {
      settings,
      hello: hello.result,
      ingest: ingest.result,
      helloNonCritical: helloNonCritical.result,
      ingestNonCritical: ingestNonCritical.result,
      warmup: {
        hello: hello.warmup,
        ingest: ingest.warmup,
        helloNonCritical: helloNonCritical.warmup,
        ingestNonCritical: ingestNonCritical.warmup,
      },
      nodes: pool.size,
      requestsPerNode: REQUESTS_PER_NODE,
      targetRatio: INGEST_TARGET_RATIO,
      failures: [
        ...problems("ingest", ingest.result),
        ...problems("hello", hello.result),
        ...problems("ingest non-critical", ingestNonCritical.result),
        ...problems("hello non-critical", helloNonCritical.result),
        ...(overBudget > 0 ? [`${overBudget} ingest requests ran out of node budget (enroll more nodes)`] : []),
      ],
    };
  } finally {
    await Promise.allSettled([stopEdge(ingestEdge!), stopEdge(helloEdge!)]);
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
