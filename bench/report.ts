/**
 * The benchmark's output: one table per part on stdout and bench-results.json at the repo root
 * (git-ignored). Headline figures keep their exact names at the top level (the ingest part's as
 * before: ingest_rps ... target_met); each part's details sit under its own key. A part that did
 * not run leaves its figures out rather than reporting stale ones.
 */
import { writeFile } from "node:fs/promises";
import os, { loadavg } from "node:os";
import type { HotGroupFigures, TriageFigures } from "./triage.ts";
import { REMEDIATION_OUTSIDE_WINDOW_TARGET_S, type RemediationFigures } from "./remediation.ts";
import type { UpdateFigures } from "./update.ts";
import path from "node:path";
import { REPO_ROOT } from "../scripts/local-edge.ts";
import type { AgentSection } from "./agent-idle.ts";
import { type AgentStartFigures, printAgentStart } from "./agent-start.ts";
import { type InstallersSection, printInstallers } from "./installers.ts";
import type { D1Section } from "./d1-writes.ts";
import type { DashboardFigures } from "./dashboard.ts";
import type { HeartbeatSection, TargetRun } from "./heartbeat.ts";
import { type HeartbeatScaleFigures, printHeartbeatScale } from "./heartbeat-scale.ts";
import { type PerNodeFigures, printPerNode } from "./per-node.ts";
import type { IngestSection, Measured } from "./ingest.ts";
import type { LoadResult } from "./load.ts";
import type { ReconnectFigures } from "./reconnect.ts";
import { type Part, round } from "./settings.ts";

export const RESULTS_FILE = path.join(REPO_ROOT, "bench-results.json");

export type BenchReport = {
  parts: Part[];
  ingest?: IngestSection;
  heartbeat?: HeartbeatSection;
  heartbeatScale?: HeartbeatScaleFigures;
  perNode?: PerNodeFigures;
  reconnect?: ReconnectFigures;
  d1?: D1Section;
  triage?: TriageFigures;
  hotGroup?: HotGroupFigures;
  update?: UpdateFigures;
  remediation?: RemediationFigures;
  agent?: AgentSection;
  agentStart?: AgentStartFigures;
  installers?: InstallersSection;
  dashboard?: DashboardFigures;
  /** Parts that threw instead of measuring. */
  errors: string[];
};

export function failuresOf(report: BenchReport): string[] {
  return [
    ...report.errors,
    ...(report.ingest?.failures ?? []),
    ...(report.heartbeat?.failures ?? []),
    ...(report.heartbeatScale?.failures ?? []),
    ...(report.perNode?.failures ?? []),
    ...(report.reconnect?.failures ?? []),
    ...(report.d1?.failures ?? []),
    ...(report.agent?.failures ?? []),
  ];
}

/** Triage never the bottleneck: it handles crash reports at least as fast as ingest takes them. */
const TRIAGE_TARGET_RATIO = 1;
/** hot_group_ratio: a bad release (every report in one crash group) triages nearly as fast as unrelated crashes. */
const HOT_GROUP_TARGET = 0.9;

/** Triage reports/s over the ingest part's crash-report requests/s, both of this run; null without both parts. */
function triageRatio(report: BenchReport): number | null {
  const ingest = report.ingest?.ingest.requestsPerSecond ?? 0;
  return report.triage && ingest > 0 ? report.triage.triage_reports_per_s / ingest : null;
}

/**
 * A baseline's CPU per request ÷ the real endpoint's: the edge's whole process tree (workerd and the
 * Miniflare host) plus autocannon's share in this process. On a machine doing nothing else, where
 * throughput is bound by CPU, this is what the requests/s ratio would be; the shared machine's
 * other load moves it much less than requests/s (the same hello Worker measured 1138 and 561
 * req/s a minute apart). `less`: µs taken off the real endpoint's side (information only).
 */
function cpuRatio(baseline: Measured, real: Measured, less = 0): number | null {
  const total = (x: Measured) =>
    x.cpuUsPerRequest ? (x.cpuUsPerRequest.workerd ?? 0) + (x.cpuUsPerRequest.node ?? 0) + x.clientCpuUsPerRequest : 0;
  const [b, r] = [total(baseline), total(real) - less];
  return b > 0 && r > 0 ? b / r : null;
}

const met = (ok: boolean) => (ok ? "MET" : "NOT MET");

export function printTable(report: BenchReport): void {
  if (report.dashboard) printDashboard(report.dashboard);
  if (report.ingest) printIngest(report.ingest);
  if (report.heartbeat) printHeartbeat(report.heartbeat);
  if (report.heartbeatScale) printHeartbeatScale(report.heartbeatScale);
  if (report.d1) printD1(report.d1);
  if (report.perNode) printPerNode(report.perNode);
  if (report.triage) {
    const t = report.triage;
    console.log(
      `\nTriage: ${t.triage_reports} crash reports ingested and triaged by the queue consumer, ${t.triage_patterns} enabled patterns`,
    );
    console.log(
      `${t.triage_reports_per_s} reports/s (${t.triage_seconds} s from the first report sent to the last one triaged; sent at ${t.triage_sent_per_s}/s, the last triaged ${t.triage_lag_s} s after the last sent)`,
    );
    console.log(
      `matching alone, µs per report with every pattern: ${t.triage_match_us_one_by_one} one by one, ${t.triage_match_us_one_pass} in one pass`,
    );
    const cpu = report.ingest ? triageCpuRatio(report.ingest) : null;
    if (cpu !== null)
      console.log(`by workerd CPU per report, ingest (non-critical) / a crash report's queue send and triage = ${cpu.toFixed(3)}`);
    const ratio = triageRatio(report);
    if (ratio !== null) {
      console.log(
        `triage / crash-report ingest (${report.ingest!.ingest.requestsPerSecond.toFixed(1)} req/s above) = ${ratio.toFixed(3)}  (target >= ${TRIAGE_TARGET_RATIO}: ${met(ratio >= TRIAGE_TARGET_RATIO)})`,
      );
    }
  }
  if (report.hotGroup) {
    const h = report.hotGroup;
    console.log(
      `\nHot crash group: ${h.hot_group_nodes} nodes' reports, ${h.hot_group_reports_per_s} reports/s all in one group vs ${h.distinct_groups_reports_per_s} each in its own`,
    );
    console.log(
      `hot / distinct = ${h.hot_group_ratio.toFixed(3)}  (target >= ${HOT_GROUP_TARGET}: ${met(h.hot_group_ratio >= HOT_GROUP_TARGET)})`,
    );
  }
  if (report.reconnect) {
    const r = report.reconnect;
    const refused = Object.entries(r.fleet_reconnect_refused).map(([status, n]) => `${n} × ${status}`);
    console.log(
      `\nReconnect: ${r.fleet_reconnect_back} of ${r.fleet_reconnect_nodes} nodes back ${r.fleet_reconnect_s ?? "(not all)"} s after the killed edge served again (restart ${r.fleet_reconnect_edge_restart_s} s; from the kill ${r.fleet_reconnect_from_kill_s ?? "-"} s); ${r.fleet_reconnect_attempts_per_node} upgrade attempts per node; refused: ${refused.join(", ") || "none"}`,
    );
  }
  if (report.update) {
    const u = report.update;
    console.log(
      `\nUpdate: SOFTWARE_UPDATE queued → node healthy on the new version in ${u.update_seconds} s (health window ${u.update_healthy_window_s} s), bundle ${u.bundle_bytes} bytes`,
    );
  }
  if (report.remediation) {
    const r = report.remediation;
    console.log(
      `\nRemediation (npm run demo, steps 1-3): EADDRINUSE crash → fix verified healthy on 0.3.1 in ${r.time_to_remediation_s} s (health window ${r.remediation_health_window_s} s included)`,
    );
    const p = r.remediation_phases;
    table([
      ["phase", "s"],
      ["crash → report stored", p.crash_to_stored_s.toFixed(2)],
      ["stored → triaged", p.stored_to_triaged_s.toFixed(2)],
      ["triaged → command delivered", p.triaged_to_delivered_s.toFixed(2)],
      ["delivered → installed", p.delivered_to_installed_s.toFixed(2)],
      ["installed → new version running", p.installed_to_running_s.toFixed(2)],
      ["health window", p.health_window_s.toFixed(2)],
      ["window end → verified", p.window_end_to_verified_s.toFixed(2)],
    ]);
    console.log(
      `outside the window: ${r.remediation_outside_window_s} s  (target <= ${REMEDIATION_OUTSIDE_WINDOW_TARGET_S}: ${met(r.remediation_outside_window_s <= REMEDIATION_OUTSIDE_WINDOW_TARGET_S)})`,
    );
  }
  if (report.agent) printAgent(report.agent);
  if (report.agentStart) printAgentStart(report.agentStart);
  if (report.installers) printInstallers(report.installers);
  console.log("");
  for (const failure of failuresOf(report)) console.log(`RUN FAILED: ${failure}`);
  console.log(`results: ${path.relative(process.cwd(), RESULTS_FILE) || RESULTS_FILE}`);
}

function printIngest(r: IngestSection): void {
  const s = r.settings;
  console.log(
    `\nPOST /api/node/telemetry vs a naive endpoint and hello-world, all on Miniflare directly (workerd) on 127.0.0.1, autocannon`,
  );
  console.log(
    `${s.connections} connections, ${s.durationSeconds} s each after ${s.warmupSeconds} s warm-up, ${r.nodes} nodes (${r.naiveNodes} in the naive Worker's D1), ${os.availableParallelism()} cores, load ${loadavg()[0]!.toFixed(1)}`,
  );
  console.log("µs/req = CPU per answered request\n");
  const cpu = (x: Measured, command: string) => (x.cpuUsPerRequest ? String(x.cpuUsPerRequest[command] ?? 0) : "-");
  const row = (name: string, x: Measured) => [
    name,
    x.requestsPerSecond.toFixed(1),
    String(x.p50Ms),
    String(x.p99Ms),
    String(x.completed),
    String(x.non2xx),
    String(x.errors),
    String(x.timeouts),
    cpu(x, "workerd"),
    cpu(x, "node"),
    String(x.clientCpuUsPerRequest),
  ];
  const probe = r.rateLimitProbe;
  table([
    [
      "target",
      "req/s",
      "p50 ms",
      "p99 ms",
      "requests",
      "non-2xx",
      "errors",
      "timeouts",
      "workerd µs/req",
      "host µs/req",
      "autocannon µs/req",
    ],
    row("hello, crash-report bodies", r.hello),
    row("naive, crash reports", r.naive),
    row("ingest crash reports", r.ingest),
    row("hello, non-critical bodies", r.helloNonCritical),
    row("naive, non-critical", r.naiveNonCritical),
    row("ingest non-critical", r.ingestNonCritical),
    row("probe: answer only", probe.answer),
    row("probe: one rate-limit call", probe.rateLimited),
  ]);
  const f = ingestFigures(r);
  const target = `target >= ${r.targetRatioVsNaive}, moonshot >= ${r.moonshotRatioVsNaive}`;
  const verdict = (ratio: number) => `${met(ratio >= r.targetRatioVsNaive)}${ratio >= r.moonshotRatioVsNaive ? ", moonshot met" : ""}`;
  console.log(
    `\ningest / naive = ${f.crash_ingest_ratio_vs_naive.toFixed(3)} for crash reports, each also queued and triaged in the same workerd  (${target}: ${verdict(f.crash_ingest_ratio_vs_naive)})`,
  );
  console.log(
    `ingest / naive = ${f.ingest_ratio_vs_naive.toFixed(3)} for non-critical reports (connection_degraded, error, health; no queue)  (${target}: ${verdict(f.ingest_ratio_vs_naive)})`,
  );
  if (f.crash_ingest_cpu_ratio_vs_naive !== null && f.ingest_cpu_ratio_vs_naive !== null) {
    console.log(
      `in CPU per request (workerd + Miniflare host + autocannon), naive / ingest = ${f.crash_ingest_cpu_ratio_vs_naive.toFixed(3)} crash reports, ${f.ingest_cpu_ratio_vs_naive.toFixed(3)} non-critical`,
    );
  }
  console.log(
    `for information, ingest / hello = ${f.ingest_ratio_vs_hello.toFixed(3)} crash reports, ${f.ingest_noncritical_ratio_vs_hello.toFixed(3)} non-critical` +
      (f.ingest_cpu_ratio_vs_hello !== null && f.ingest_noncritical_cpu_ratio_vs_hello !== null
        ? ` (by CPU per request ${f.ingest_cpu_ratio_vs_hello.toFixed(3)}, ${f.ingest_noncritical_cpu_ratio_vs_hello.toFixed(3)})`
        : ""),
  );
  if (f.rate_limit_local_us_per_request !== null) {
    console.log(
      `the local rate-limit binding (a Durable Object with a SQLite write in Miniflare, not in production) costs ${f.rate_limit_local_us_per_request} µs of CPU per call ` +
        `(probe rows: one call minus answer only, workerd + Miniflare host); it stays in ingest's figures` +
        (f.ingest_cpu_ratio_vs_naive_without_local_rate_limit === null
          ? ""
          : `; without it, by CPU, naive / ingest would be ${f.ingest_cpu_ratio_vs_naive_without_local_rate_limit.toFixed(3)} non-critical, ${f.crash_ingest_cpu_ratio_vs_naive_without_local_rate_limit!.toFixed(3)} crash reports`),
    );
  }
}

function printHeartbeat(r: HeartbeatSection): void {
  const s = r.settings;
  console.log(`\nWebSocket heartbeats (GET /api/node/connect) vs a bare Durable Object echo, both on Miniflare directly on 127.0.0.1`);
  console.log(`${s.nodes} nodes (enrolled in ${r.enrollSeconds.toFixed(0)} s), ${s.mode}`);
  console.log(
    `${s.windowSeconds} s window after warm-ups of ${r.echo.warmupSeconds.toFixed(0)} s (echo) and ${r.heartbeat.warmupSeconds.toFixed(0)} s (heartbeat): at least ${s.warmupSeconds} s, and until every socket had its first answer`,
  );
  console.log(`open files ${r.fdLimit.soft}/${r.fdLimit.hard}; both on Miniflare directly; µs/f = CPU per answered frame\n`);
  const row = (name: string, x: TargetRun) => [
    name,
    `${x.connected}/${x.requested}`,
    x.openSeconds.toFixed(1),
    x.loop ? x.loop.perSecond.toFixed(1) : "-",
    x.loop ? String(x.loop.p50Ms) : "-",
    x.loop ? String(x.loop.p99Ms) : "-",
    x.loop ? String(x.loop.silentSockets) : "-",
    x.cost ? String(x.cost.cpuUsPerFrame.workerd ?? "-") : "-",
    x.cost ? String(x.cost.cpuUsPerFrame.node ?? "-") : "-",
    x.cost ? String(x.cost.rssMbByCommand.workerd ?? "-") : "-",
  ];
  table([
    ["target", "sockets", "open s", "frames/s", "p50 ms", "p99 ms", "unanswered", "workerd µs/f", "server µs/f", "workerd MB"],
    row("echo (baseline)", r.echo),
    row("heartbeat", r.heartbeat),
    ...(r.mix ? [row("beats, production's mix (1 full, 19 pings)", r.mix.run)] : []),
    ...(r.history ? [row(`heartbeat, history every ${r.history.slotSeconds} s`, r.history.run)] : []),
  ]);
  console.log(`\nheartbeat / echo = ${r.ratio.toFixed(3)}  (target >= ${r.targetRatio}: ${met(r.ratio >= r.targetRatio)})`);
  if (r.cpuRatio !== null) console.log(`in workerd CPU per frame, echo / heartbeat = ${r.cpuRatio.toFixed(3)}`);
  if (r.mix) {
    const m = r.mix;
    console.log(
      `beats in production's mix / echo = ${m.ratio.toFixed(3)} (information)${m.cpuRatio === null ? "" : `, by workerd CPU per frame ${m.cpuRatio.toFixed(3)}`}`,
    );
  }
  if (r.history) {
    const h = r.history;
    console.log(
      `with a history sample every ${h.slotSeconds} s (${h.samplesPerHeartbeat.toFixed(3)} per heartbeat; production ${r.productionSamplesPerHeartbeat}): ` +
        `heartbeat / echo = ${h.ratio.toFixed(3)} (target >= ${r.targetRatio}: ${met(h.ratio >= r.targetRatio)})` +
        `${h.cpuRatio === null ? "" : `, by workerd CPU per frame ${h.cpuRatio.toFixed(3)}`}`,
    );
  }
}

function printD1(r: D1Section): void {
  console.log(`\nD1 rows written by the real Worker in steady state (SQLite triggers on ${r.tables.length} tables)`);
  console.log(
    `${r.settings.nodes} nodes heartbeating every ${r.settings.intervalSeconds} s, ${r.loop.windowSeconds.toFixed(1)} s window: ${r.heartbeats} heartbeats acked\n`,
  );
  const writes =
    Object.entries(r.steadyWrites)
      .map(([k, v]) => `${k}: ${v}`)
      .join(", ") || "none";
  console.log(`steady-state writes: ${r.steadyWritesTotal} (${writes}) = ${r.writesPerHeartbeat.toFixed(4)} per heartbeat`);
  console.log(
    `per node-hour: ${r.writesPerHeartbeat.toFixed(4)} × 120 heartbeats = ${r.heartbeatPart.toFixed(2)}  +  ${r.rollupPart} hourly rollup (designed)  = ${r.perNodeHour.toFixed(2)}`,
  );
  console.log(`(apart: ${r.startupWritesPerNode.toFixed(2)} writes per node on connect and first heartbeat)`);
  console.log(`\nd1_writes_per_node_hour = ${r.perNodeHour.toFixed(2)}  (target <= ${r.target}: ${met(r.perNodeHour <= r.target)})`);
}

function printAgent(r: AgentSection): void {
  console.log(`\nThe agent idle (buhdi-node run: supervisor + node program) vs a bare Node 22 WebSocket, same edge`);
  console.log(
    `${r.windowSeconds.toFixed(0)} s idle after ${r.settings.settleSeconds} s settling, ${r.samples} samples, heartbeat every ${r.settings.heartbeatIntervalSeconds} s, load ${r.loadAverage.start.toFixed(2)} → ${r.loadAverage.end.toFixed(2)}\n`,
  );
  table([
    ["process tree", "processes", "RSS MB (mean)", "per process MB", "CPU % of a core"],
    ["agent", String(r.agent.processes), r.agent.rssMbMean.toFixed(1), r.agent.rssMbPerProcess.join(" + "), r.agent.cpuPct.toFixed(3)],
    ["bare WebSocket", String(r.bare.processes), r.bare.rssMbMean.toFixed(1), r.bare.rssMbPerProcess.join(" + "), r.bare.cpuPct.toFixed(3)],
  ]);
  console.log(
    `\nagent RSS per process / bare = ${r.rssRatio.toFixed(3)}  (target <= ${r.targets.rssRatio}: ${met(r.rssRatio <= r.targets.rssRatio)})`,
  );
  console.log(
    `agent idle CPU = ${r.agent.cpuPct.toFixed(3)} %  (target <= ${r.targets.cpuPct}: ${met(r.agent.cpuPct <= r.targets.cpuPct)})`,
  );
}

function table(lines: string[][]): void {
  const widths = lines[0]!.map((_, c) => Math.max(...lines.map((line) => line[c]!.length)));
  for (const line of lines) console.log(line.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  "));
}

export async function writeResults(report: BenchReport, wranglerVersion: string): Promise<void> {
  const failures = failuresOf(report);
  const cpus = os.cpus();
  const json = {
    parts: report.parts,
    ...(report.ingest ? ingestFigures(report.ingest) : {}),
    ...(report.heartbeat ? heartbeatFigures(report.heartbeat) : {}),
    ...(report.d1 ? d1Figures(report.d1) : {}),
    ...(report.triage ?? {}),
    ...triageFigures(report),
    ...(report.hotGroup ?? {}),
    ...(report.heartbeatScale ?? {}),
    ...(report.perNode ?? {}),
    ...(report.reconnect ?? {}),
    ...(report.update ?? {}),
    ...(report.remediation ?? {}),
    ...(report.dashboard ?? {}),
    ...(report.agent ? agentFigures(report.agent) : {}),
    ...(report.agentStart ?? {}),
    ...(report.installers ?? {}),
    run_ok: failures.length === 0,
    failures,
    timestamp: new Date().toISOString(),
    machine: {
      cores: os.availableParallelism(),
      cpu: cpus[0]?.model ?? "unknown",
      memory_gb: round(os.totalmem() / 2 ** 30, 1),
      platform: `${os.platform()} ${os.arch()}`,
      node: process.version,
      wrangler: wranglerVersion,
    },
    ...(report.ingest ? ingestDetails(report.ingest) : {}),
    ...(report.heartbeat ? { heartbeat: report.heartbeat } : {}),
    ...(report.d1 ? { d1_writes: report.d1 } : {}),
    ...(report.agent ? { agent_idle: report.agent } : {}),
  };
  await writeFile(RESULTS_FILE, `${JSON.stringify(json, roundNumbers, 2)}\n`);
}

function ingestFigures(r: IngestSection) {
  const rps = (a: Measured, b: Measured) => (b.requestsPerSecond > 0 ? a.requestsPerSecond / b.requestsPerSecond : 0);
  const crashVsNaive = rps(r.ingest, r.naive);
  const nonCriticalVsNaive = rps(r.ingestNonCritical, r.naiveNonCritical);
  const cpu = (baseline: Measured, real: Measured, less = 0) => {
    const ratio = cpuRatio(baseline, real, less);
    return ratio === null ? null : round(ratio, 3);
  };
  const rateLimit = localRateLimitUs(r);
  return {
    ingest_rps: round(r.ingest.requestsPerSecond, 1),
    naive_rps: round(r.naive.requestsPerSecond, 1),
    hello_rps: round(r.hello.requestsPerSecond, 1),
    crash_ingest_ratio_vs_naive: round(crashVsNaive, 3),
    crash_ingest_cpu_ratio_vs_naive: cpu(r.naive, r.ingest),
    ingest_ratio_vs_hello: round(rps(r.ingest, r.hello), 3),
    ingest_cpu_ratio_vs_hello: cpu(r.hello, r.ingest),
    ingest_p99_ms: r.ingest.p99Ms,
    naive_p99_ms: r.naive.p99Ms,
    hello_p99_ms: r.hello.p99Ms,
    ingest_p50_ms: r.ingest.p50Ms,
    naive_p50_ms: r.naive.p50Ms,
    hello_p50_ms: r.hello.p50Ms,
    ingest_noncritical_rps: round(r.ingestNonCritical.requestsPerSecond, 1),
    naive_noncritical_rps: round(r.naiveNonCritical.requestsPerSecond, 1),
    hello_noncritical_rps: round(r.helloNonCritical.requestsPerSecond, 1),
    ingest_ratio_vs_naive: round(nonCriticalVsNaive, 3),
    ingest_cpu_ratio_vs_naive: cpu(r.naiveNonCritical, r.ingestNonCritical),
    ingest_noncritical_ratio_vs_hello: round(rps(r.ingestNonCritical, r.helloNonCritical), 3),
    ingest_noncritical_cpu_ratio_vs_hello: cpu(r.helloNonCritical, r.ingestNonCritical),
    ingest_noncritical_p99_ms: r.ingestNonCritical.p99Ms,
    naive_noncritical_p99_ms: r.naiveNonCritical.p99Ms,
    ingest_target_ratio_vs_naive: r.targetRatioVsNaive,
    ingest_moonshot_ratio_vs_naive: r.moonshotRatioVsNaive,
    ingest_target_met_vs_naive: nonCriticalVsNaive >= r.targetRatioVsNaive,
    crash_ingest_target_met_vs_naive: crashVsNaive >= r.targetRatioVsNaive,
    rate_limit_local_us_per_request: rateLimit,
    // Information only (the figures above keep the rate limit): the CPU ratios with the local emulation's cost taken out.
    ingest_cpu_ratio_vs_naive_without_local_rate_limit: rateLimit === null ? null : cpu(r.naiveNonCritical, r.ingestNonCritical, rateLimit),
    crash_ingest_cpu_ratio_vs_naive_without_local_rate_limit: rateLimit === null ? null : cpu(r.naive, r.ingest, rateLimit),
  };
}

/**
 * What one call of the local rate-limit binding costs the edge's processes (workerd + Miniflare host),
 * µs per request: the probe that calls it once minus the probe that only answers; null without CPU samples.
 */
function localRateLimitUs(r: IngestSection): number | null {
  const edge = (x: Measured) => (x.cpuUsPerRequest ? (x.cpuUsPerRequest.workerd ?? 0) + (x.cpuUsPerRequest.node ?? 0) : null);
  const [limited, answer] = [edge(r.rateLimitProbe.rateLimited), edge(r.rateLimitProbe.answer)];
  return limited === null || answer === null ? null : limited - answer;
}

function triageFigures(report: BenchReport) {
  const ratio = triageRatio(report);
  const cpu = report.ingest ? triageCpuRatio(report.ingest) : null;
  return {
    ...(ratio === null
      ? {}
      : {
          triage_ratio_vs_ingest: round(ratio, 3),
          triage_target_ratio: TRIAGE_TARGET_RATIO,
          triage_target_met: ratio >= TRIAGE_TARGET_RATIO,
        }),
    ...(cpu === null ? {} : { triage_cpu_ratio_vs_ingest: round(cpu, 3) }),
  };
}

/**
 * From the ingest part alone, by workerd CPU per request: ingesting a non-critical report ÷ what
 * a crash report costs on top of it (its queue send and its triage, in the same workerd). Above
 * 1, the consumer needs less CPU per report than ingest does, so on the same cores it can triage
 * faster than the edge ingests; the req/s ratio moves with the machine's other load.
 */
function triageCpuRatio(r: IngestSection): number | null {
  const crash = r.ingest.cpuUsPerRequest?.workerd;
  const plain = r.ingestNonCritical.cpuUsPerRequest?.workerd;
  return crash && plain && crash > plain ? plain / (crash - plain) : null;
}

function heartbeatFigures(r: HeartbeatSection) {
  return {
    heartbeat_nodes: r.heartbeat.connected,
    heartbeat_rps: round(r.heartbeat.loop?.perSecond ?? 0, 1),
    echo_rps: round(r.echo.loop?.perSecond ?? 0, 1),
    heartbeat_ratio_vs_echo: round(r.ratio, 3),
    heartbeat_cpu_ratio_vs_echo: r.cpuRatio === null ? null : round(r.cpuRatio, 3),
    heartbeat_target_ratio: r.targetRatio,
    heartbeat_target_met: r.ratio >= r.targetRatio,
    heartbeat_history_slot_s: r.history?.slotSeconds ?? null,
    heartbeat_history_samples_per_heartbeat: r.history ? round(r.history.samplesPerHeartbeat, 3) : null,
    heartbeat_history_rps: r.history ? round(r.history.run.loop?.perSecond ?? 0, 1) : null,
    heartbeat_history_ratio_vs_echo: r.history ? round(r.history.ratio, 3) : null,
    heartbeat_history_cpu_ratio_vs_echo: r.history?.cpuRatio == null ? null : round(r.history.cpuRatio, 3),
    beat_mix_rps: r.mix ? round(r.mix.run.loop?.perSecond ?? 0, 1) : null,
    beat_mix_ratio_vs_echo: r.mix ? round(r.mix.ratio, 3) : null,
    beat_mix_cpu_ratio_vs_echo: r.mix?.cpuRatio == null ? null : round(r.mix.cpuRatio, 3),
  };
}

function d1Figures(r: D1Section) {
  return {
    d1_writes_per_node_hour: round(r.perNodeHour, 3),
    d1_target_per_node_hour: r.target,
    d1_target_met: r.perNodeHour <= r.target,
  };
}

function agentFigures(r: AgentSection) {
  return {
    agent_idle_rss_mb: round(r.agent.rssMbMean, 1),
    bare_node_ws_rss_mb: round(r.bare.rssMbMean, 1),
    agent_rss_ratio: round(r.rssRatio, 3),
    agent_idle_cpu_pct: round(r.agent.cpuPct, 3),
    agent_processes: r.agent.processes,
    agent_rss_target_ratio: r.targets.rssRatio,
    agent_cpu_target_pct: r.targets.cpuPct,
    agent_rss_target_met: r.rssRatio <= r.targets.rssRatio,
    agent_cpu_target_met: r.agent.cpuPct <= r.targets.cpuPct,
  };
}

/** The ingest part's context, as before (settings, per-target details, warm-up), plus the non-critical pair. */
function ingestDetails(r: IngestSection) {
  return {
    settings: {
      connections: r.settings.connections,
      duration_s: r.settings.durationSeconds,
      warmup_s: r.settings.warmupSeconds,
      nodes: r.nodes,
      naive_nodes: r.naiveNodes,
      requests_per_node_max: r.requestsPerNode,
      path: "POST /api/node/telemetry (crash_report, fresh event_id per request)",
      path_noncritical: "POST /api/node/telemetry (connection_degraded, error, health in turn, fresh event_id per request)",
      baseline: "the same JSON bodies and node keys POSTed to the naive endpoint (bench/naive) and to a hello-world Worker",
      rate_limit_probe:
        "the naive Worker's POST /api/bench/rate-limit (one binding call) minus POST /api/bench/answer, non-critical bodies",
      runtime: "every Worker on Miniflare directly (scripts/edge-server.ts), without wrangler dev's proxy",
    },
    hello: details(r.hello),
    naive: details(r.naive),
    ingest: details(r.ingest),
    hello_noncritical: details(r.helloNonCritical),
    naive_noncritical: details(r.naiveNonCritical),
    ingest_noncritical: details(r.ingestNonCritical),
    rate_limit_probe: { answer: details(r.rateLimitProbe.answer), rate_limited: details(r.rateLimitProbe.rateLimited) },
    warmup: Object.fromEntries(Object.entries(r.warmup).map(([name, run]) => [name.replace("NonCritical", "_noncritical"), details(run)])),
  };
}

function details(r: LoadResult | Measured) {
  return {
    ...("cpuUsPerRequest" in r ? { cpu_us_per_request: r.cpuUsPerRequest, autocannon_cpu_us_per_request: r.clientCpuUsPerRequest } : {}),
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

/** Details carry raw measurements: three decimals are plenty in the file. */
function roundNumbers(_key: string, value: unknown): unknown {
  return typeof value === "number" && !Number.isInteger(value) ? round(value, 3) : value;
}

function printDashboard(d: DashboardFigures): void {
  console.log("\ndashboard (chromium)");
  table([
    ["view", "first load JS+CSS, KB gzipped"],
    ...Object.entries(d.dashboard_first_load_kb).map(([view, kb]) => [view, kb.toFixed(1)]),
  ]);
  const ok = Object.values(d.dashboard_first_load_kb).every((kb) => kb <= 100);
  console.log(`every view <= 100 KB: ${met(ok)}`);
  console.log(`fleet page: ${d.fleet_page_ms_1} ms with 1 node, ${d.fleet_page_ms_2000} ms with 2,000`);
  console.log(
    `fleet_page_ms_2000_over_1 = ${d.fleet_page_ms_2000_over_1.toFixed(2)}  (target <= 3: ${met(d.fleet_page_ms_2000_over_1 <= 3)})`,
  );
}
