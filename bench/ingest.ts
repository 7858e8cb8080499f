/**
 * Requests/s and p99 of `POST /api/node/telemetry` on the real edge, against a hello-world
 * Worker under the same runtime (wrangler dev / workerd) and the same load generator, measured
 * one after the other. The headline is the ratio ingest/hello (target >= 0.5), because absolute
 * figures on shared 2-core machines are noise.
 *
 * Settings (env): BENCH_DURATION (s, default 15), BENCH_WARMUP (s, default 3),
 * BENCH_CONNECTIONS (default 10).
 */
import path from "node:path";
import { REPO_ROOT } from "../scripts/local-edge.ts";
import { startEdges, stopEdge } from "./edges.ts";
import { NodeKeyPool, REQUESTS_PER_NODE } from "./fleet.ts";
import { runLoad, type LoadResult, type LoadTarget } from "./load.ts";
import { crashReportBody, TELEMETRY_PATH, telemetryHeaders } from "./payload.ts";
import { log, positiveInt } from "./settings.ts";

export const INGEST_TARGET_RATIO = 0.5;
const HELLO_CONFIG = path.join(REPO_ROOT, "bench", "hello", "wrangler.toml");
/** Nodes enrolled before anything is known: room for this many requests/s during warm-up. */
const WARMUP_RPS_ALLOWANCE = 2000;
/** Nodes for the measurement: room for this many times the warm-up's rate. */
const MEASURE_HEADROOM = 2.5;

export type IngestSection = {
  settings: { connections: number; durationSeconds: number; warmupSeconds: number };
  hello: LoadResult;
  ingest: LoadResult;
  warmup: { hello: LoadResult; ingest: LoadResult };
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
  };
  log("ingest: starting the edge and the hello-world Worker (wrangler dev)");
  const [ingestEdge, helloEdge] = await startEdges([{}, { config: HELLO_CONFIG }]);
  try {
    const pool = await NodeKeyPool.create(ingestEdge!);
    await pool.ensureRoomFor(WARMUP_RPS_ALLOWANCE * settings.warmupSeconds);
    log(`ingest: enrolled ${pool.size} nodes for the warm-up`);

    // Same request to both: the baseline gets the same crash-report JSON and headers (a real
    // node key, which it ignores), so body size, parsing on the client and transfer are equal.
    let helloKey = 0;
    const hello: LoadTarget = {
      url: helloEdge!.url,
      path: TELEMETRY_PATH,
      next: () => ({ headers: telemetryHeaders(pool.anyKey(helloKey++)), body: crashReportBody() }),
    };
    const ingest: LoadTarget = {
      url: ingestEdge!.url,
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
    for (const problem of problems("ingest warm-up", ingestWarmup)) log(`warning: ${problem}`);
    await pool.ensureRoomFor(Math.ceil(ingestWarmup.requestsPerSecond * MEASURE_HEADROOM * settings.durationSeconds));
    log(`ingest: ${pool.size} nodes enrolled; measuring ${settings.durationSeconds} s`);
    const overBudgetBefore = pool.overBudget;
    const ingestResult = await runLoad(ingest, measure);

    return {
      settings,
      hello: helloResult,
      ingest: ingestResult,
      warmup: { hello: helloWarmup, ingest: ingestWarmup },
      nodes: pool.size,
      requestsPerNode: REQUESTS_PER_NODE,
      targetRatio: INGEST_TARGET_RATIO,
      failures: [
        ...problems("ingest", ingestResult),
        ...problems("hello", helloResult),
        ...(pool.overBudget > overBudgetBefore
          ? [`${pool.overBudget - overBudgetBefore} ingest requests ran out of node budget (enroll more nodes)`]
          : []),
      ],
    };
  } finally {
    await Promise.allSettled([stopEdge(ingestEdge!), stopEdge(helloEdge!)]);
  }
}

function problems(name: string, r: LoadResult): string[] {
  const found: string[] = [];
  if (r.completed === 0) found.push(`${name}: no request completed`);
  if (r.non2xx > 0) found.push(`${name}: ${r.non2xx} non-2xx answers (${JSON.stringify(r.statusCodes)})`);
  if (r.errors > 0) found.push(`${name}: ${r.errors} socket errors`);
  if (r.timeouts > 0) found.push(`${name}: ${r.timeouts} timeouts`);
  return found;
}
