/**
 * The benchmark's output: the table on stdout and bench-results.json at the repo root
 * (git-ignored). The five headline figures keep their exact names; the rest is context
 * for reading them (settings, machine, per-status counts).
 */
import { writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { REPO_ROOT } from "../scripts/local-edge.ts";
import type { LoadResult, LoadSettings } from "./load.ts";

export const RESULTS_FILE = path.join(REPO_ROOT, "bench-results.json");

export type BenchReport = {
  settings: LoadSettings & { warmupSeconds: number };
  hello: LoadResult;
  ingest: LoadResult;
  warmup: { hello: LoadResult; ingest: LoadResult };
  nodes: number;
  requestsPerNode: number;
  targetRatio: number;
  /** Why the run does not count (empty when it does). */
  failures: string[];
};

export function ratioOf(report: BenchReport): number {
  return report.hello.requestsPerSecond > 0 ? report.ingest.requestsPerSecond / report.hello.requestsPerSecond : 0;
}

export function printTable(report: BenchReport): void {
  const rows: [string, LoadResult][] = [
    ["hello (baseline)", report.hello],
    ["ingest", report.ingest],
  ];
  const header = ["target", "req/s", "p50 ms", "p99 ms", "requests", "non-2xx", "errors", "timeouts"];
  const lines = [
    header,
    ...rows.map(([name, r]) => [
      name,
      r.requestsPerSecond.toFixed(1),
      String(r.p50Ms),
      String(r.p99Ms),
      String(r.completed),
      String(r.non2xx),
      String(r.errors),
      String(r.timeouts),
    ]),
  ];
  const widths = header.map((_, c) => Math.max(...lines.map((line) => line[c]!.length)));
  const s = report.settings;
  console.log(`\nPOST /api/node/telemetry vs hello-world, wrangler dev (workerd) on 127.0.0.1, autocannon`);
  console.log(`${s.connections} connections, ${s.durationSeconds} s each after ${s.warmupSeconds} s warm-up, ${report.nodes} nodes, ${os.availableParallelism()} cores\n`);
  for (const line of lines) console.log(line.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  "));
  const ratio = ratioOf(report);
  const met = ratio >= report.targetRatio;
  console.log(`\ningest / hello = ${ratio.toFixed(3)}  (target >= ${report.targetRatio}: ${met ? "MET" : "NOT MET"})`);
  for (const failure of report.failures) console.log(`RUN FAILED: ${failure}`);
  console.log(`results: ${path.relative(process.cwd(), RESULTS_FILE) || RESULTS_FILE}`);
}

export async function writeResults(report: BenchReport, wranglerVersion: string): Promise<void> {
  const ratio = ratioOf(report);
  const cpus = os.cpus();
  const json = {
    ingest_rps: round(report.ingest.requestsPerSecond, 1),
    hello_rps: round(report.hello.requestsPerSecond, 1),
    ingest_ratio_vs_hello: round(ratio, 3),
    ingest_p99_ms: report.ingest.p99Ms,
    hello_p99_ms: report.hello.p99Ms,
    ingest_p50_ms: report.ingest.p50Ms,
    hello_p50_ms: report.hello.p50Ms,
    target_ratio: report.targetRatio,
    target_met: ratio >= report.targetRatio,
    run_ok: report.failures.length === 0,
    failures: report.failures,
    timestamp: new Date().toISOString(),
    settings: {
      connections: report.settings.connections,
      duration_s: report.settings.durationSeconds,
      warmup_s: report.settings.warmupSeconds,
      nodes: report.nodes,
      requests_per_node_max: report.requestsPerNode,
      path: "POST /api/node/telemetry (crash_report, fresh event_id per request)",
      baseline: "POST of the same JSON body and headers to a hello-world Worker",
    },
    machine: {
      cores: os.availableParallelism(),
      cpu: cpus[0]?.model ?? "unknown",
      memory_gb: round(os.totalmem() / 2 ** 30, 1),
      platform: `${os.platform()} ${os.arch()}`,
      node: process.version,
      wrangler: wranglerVersion,
    },
    hello: details(report.hello),
    ingest: details(report.ingest),
    warmup: { hello: details(report.warmup.hello), ingest: details(report.warmup.ingest) },
  };
  await writeFile(RESULTS_FILE, `${JSON.stringify(json, null, 2)}\n`);
}

function details(r: LoadResult) {
  return {
    rps: round(r.requestsPerSecond, 1),
    p50_ms: r.p50Ms,
    p99_ms: r.p99Ms,
    requests: r.completed,
    duration_s: r.durationSeconds,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    status_codes: r.statusCodes,
  };
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
