/**
 * `npm run bench`: the edge and the agent measured against baselines on the same machine, in one
 * run, each part as a ratio because absolute figures on shared 2-core machines are noise:
 *   ingest     POST /api/node/telemetry vs a naive endpoint and a hello-world Worker (bench/ingest.ts)
 *   heartbeat  2,000 WebSocket nodes heartbeating vs a bare Durable Object echo (bench/heartbeat.ts)
 *   heartbeat-scale heartbeat CPU per frame and edge memory per node at 500 to 4,000 nodes (bench/heartbeat-scale.ts)
 *   reconnect  2,000 nodes back after the edge is killed and restarted, fleet_reconnect_s (bench/reconnect.ts)
 *   d1         D1 writes per node-hour in steady state, counted by SQLite triggers (bench/d1-writes.ts)
 *   per-node   Durable Object wakes and rows, D1 rows and log lines per node-hour on the deployed settings (bench/per-node.ts)
 *   triage     crash reports through the queue consumer per second with 200 enabled patterns (bench/triage.ts)
 *   hot-group  triage when every report lands in one crash group vs each in its own (bench/triage.ts)
 *   update     SOFTWARE_UPDATE queued → node healthy on the new version, and the bundle's size (bench/update.ts)
 *   remediation the demo's crash → fix verified on 0.3.1, time_to_remediation_s (bench/remediation.ts)
 *   agent      the idle agent's RSS and CPU vs a bare Node WebSocket process (bench/agent-idle.ts)
 *   agent-start `buhdi-node run` → the cloud shows the node online, vs the bare WebSocket process (bench/agent-start.ts)
 *   installers installer_bytes per platform; the Linux SEA's start vs node <bundle> (bench/installers.ts)
 *   dashboard  first-load JS+CSS of each view, and the fleet page with 2,000 nodes over 1 node, in chromium (bench/dashboard.ts)
 * BENCH_ONLY=ingest,heartbeat picks parts (default: all). The agent part is mostly waiting, so it
 * runs alongside the others (its own edge; CPU time and RSS of an idle process hardly depend on
 * the machine's load, which is recorded); BENCH_AGENT_ALONE=1 runs it after them instead.
 *
 * Writes bench-results.json and prints one table per part. Exits 0 whether or not targets are
 * met; exits 1 only when a part did not measure what it meant to (errors, refused connections,
 * an edge that would not start). Every edge and process started is stopped, also on failure.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { REPO_ROOT } from "../scripts/local-edge.ts";
import { benchAgentIdle, type AgentSection } from "./agent-idle.ts";
import { benchAgentStart } from "./agent-start.ts";
import { benchD1Writes } from "./d1-writes.ts";
import { benchDashboard } from "./dashboard.ts";
import { stopEverything } from "./edges.ts";
import { benchHeartbeat } from "./heartbeat.ts";
import { benchHeartbeatScale } from "./heartbeat-scale.ts";
import { benchPerNode } from "./per-node.ts";
import { benchIngest } from "./ingest.ts";
import { benchInstallers } from "./installers.ts";
import { benchHotGroup, benchTriage } from "./triage.ts";
import { benchReconnect } from "./reconnect.ts";
import { benchRemediation } from "./remediation.ts";
import { benchUpdate } from "./update.ts";
import { failuresOf, printTable, writeResults, type BenchReport } from "./report.ts";
import { log, selectedParts } from "./settings.ts";

const started = performance.now();
try {
  process.exitCode = (await bench()) ? 0 : 1;
} catch (error) {
  console.error(`bench: ${(error as Error).stack ?? String(error)}`);
  process.exitCode = 1;
} finally {
  await stopEverything();
  log(`done in ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

/** True when every part measured what it meant to (whether or not targets were met). */
async function bench(): Promise<boolean> {
  const parts = selectedParts();
  const report: BenchReport = { parts, errors: [] };
  const attempt = async <T>(part: string, run: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await run();
    } catch (error) {
      const message = (error as Error).message ?? String(error);
      log(`${part} failed: ${message}`);
      report.errors.push(`${part}: ${message.split("\n")[0]}`);
      return undefined;
    }
  };
  log(`parts: ${parts.join(", ")}`);

  const agentAlone = process.env.BENCH_AGENT_ALONE === "1" || parts.length === 1;
  let agent: Promise<AgentSection | undefined> | undefined;
  if (parts.includes("agent") && !agentAlone) agent = attempt("agent", benchAgentIdle);

  if (parts.includes("ingest")) report.ingest = await attempt("ingest", benchIngest);
  if (parts.includes("heartbeat")) report.heartbeat = await attempt("heartbeat", benchHeartbeat);
  if (parts.includes("heartbeat-scale")) report.heartbeatScale = await attempt("heartbeat-scale", benchHeartbeatScale);
  if (parts.includes("reconnect")) report.reconnect = await attempt("reconnect", benchReconnect);
  if (parts.includes("d1")) report.d1 = await attempt("d1", benchD1Writes);
  if (parts.includes("per-node")) report.perNode = await attempt("per-node", benchPerNode);
  if (parts.includes("triage")) report.triage = await attempt("triage", benchTriage);
  if (parts.includes("hot-group")) report.hotGroup = await attempt("hot-group", benchHotGroup);
  if (parts.includes("update")) report.update = await attempt("update", benchUpdate);
  if (parts.includes("remediation")) report.remediation = await attempt("remediation", benchRemediation);
  if (parts.includes("dashboard")) report.dashboard = await attempt("dashboard", benchDashboard);
  if (parts.includes("agent-start")) report.agentStart = await attempt("agent-start", benchAgentStart);
  if (parts.includes("agent")) report.agent = await (agent ?? attempt("agent", benchAgentIdle));
  if (parts.includes("installers")) report.installers = await attempt("installers", benchInstallers);

  printTable(report);
  await writeResults(report, await wranglerVersion());
  return failuresOf(report).length === 0;
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
