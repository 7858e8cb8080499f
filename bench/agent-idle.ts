/**
 * What the real agent costs when idle: `buhdi-node run` (the supervisor and the node program
 * it starts, with its WebSocket to the edge and its heartbeat) against a local edge at the real
 * 30 s heartbeat interval, next to bench/bare-ws.ts (a bare Node process holding one WebSocket
 * to the same edge).
 *
 * Both run as what users run: the agent is the release bundle, built by buildAgent
 * (scripts/build-agent.ts, esbuild, zod inlined) into a temp dir, enrolled and started with that
 * same bundle (`node <bundle> enroll …`, `node <bundle> run`), so the supervisor starts the
 * bundle as its node program too. The bare process is built the same way from bench/bare-ws.ts.
 * Both run on the same Node binary (node_modules/.bin/node). Running either from the TypeScript
 * sources would add Node's type stripping (about 13 MB per process) that no install pays.
 *
 * After both are connected and have settled, both process trees are sampled every 5 s for
 * BENCH_AGENT_IDLE_S (default 180): RSS = VmRSS summed over the tree (mean of the samples), CPU =
 * utime+stime of the tree over the window as % of one core. agent_rss_ratio = (agent RSS /
 * agent processes) / bare RSS. Targets: ratio <= 1.2, CPU <= 0.5 %.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import path from "node:path";
import { freePort } from "../scripts/local-edge.ts";
import { onStop, startEdge, stopEdge } from "./edges.ts";
import { createCode, createOwner, enrollNode } from "./fleet.ts";
import { buildAgentAndBare, isConnected, NODE22, runCli, spawnTree, type Started, stopTree, tail, waitConnected } from "./agent-process.ts";
import { sampleTree, type TreeSample } from "./proc-tree.ts";
import { log, positiveInt, sleep } from "./settings.ts";

export const AGENT_TARGETS = { rssRatio: 1.2, cpuPct: 0.5 };
const SAMPLE_EVERY_MS = 5_000;

export type TreeFigures = {
  rssMbMean: number;
  rssMbMin: number;
  rssMbMax: number;
  /** Processes in the tree (at the last sample), and every command seen. */
  processes: number;
  commands: string[];
  cpuPct: number;
  cpuSeconds: number;
  /** Distinct pids seen in the window (more than `processes` means something restarted). */
  pidsSeen: number;
  /** RSS of each process at the last sample, root (the supervisor) first. */
  rssMbPerProcess: number[];
  /** The anonymous (not file-backed) part of each of those: the process's own memory. */
  rssAnonMbPerProcess: number[];
};

export type AgentSection = {
  settings: { idleSeconds: number; settleSeconds: number; sampleEverySeconds: number; heartbeatIntervalSeconds: number };
  /** What ran: the built files (temp paths, removed afterwards) and their sizes. */
  built: { agent: string; agentBytes: number; bare: string; bareBytes: number; node: string };
  agent: TreeFigures;
  bare: TreeFigures;
  rssPerAgentProcessMb: number;
  rssRatio: number;
  samples: number;
  windowSeconds: number;
  loadAverage: { start: number; end: number };
  targets: typeof AGENT_TARGETS;
  failures: string[];
};

export async function benchAgentIdle(): Promise<AgentSection> {
  const settings = {
    idleSeconds: positiveInt("BENCH_AGENT_IDLE_S", 180),
    settleSeconds: positiveInt("BENCH_AGENT_SETTLE_S", 10),
    sampleEverySeconds: SAMPLE_EVERY_MS / 1000,
    heartbeatIntervalSeconds: 30,
  };
  log("agent: starting an edge (Miniflare directly, default 30 s heartbeat)");
  const edge = await startEdge({ direct: true });
  const home = await mkdtemp(path.join(tmpdir(), "buhdi-bench-agent-"));
  const buildDir = await mkdtemp(path.join(tmpdir(), "buhdi-bench-agent-build-"));
  const started: Started[] = [];
  const stopAll = async () => {
    await Promise.allSettled(started.map((s) => stopTree(s.child)));
    await rm(home, { recursive: true, force: true });
    await rm(buildDir, { recursive: true, force: true });
  };
  const unregister = onStop(stopAll);
  try {
    log("agent: building the release bundle and the bare baseline (scripts/build-agent.ts)");
    const { agent: agentBuild, bare: bareBuild } = await buildAgentAndBare(buildDir);
    const agentBundle = agentBuild.file;
    const ownerId = await createOwner(edge);
    const code = await createCode(edge, ownerId, "bench-agent");
    await runCli(agentBundle, ["enroll", code, "--server", edge.url], home);
    const agentNodeId = (JSON.parse(await readFile(path.join(home, "config.json"), "utf8")) as { node_id: string }).node_id;
    const bareNode = await enrollNode(edge, ownerId, "bench-bare-ws");

    const agent = spawnTree([agentBundle, "run"], { BUHDI_NODE_HOME: home, BUHDI_NODE_PORT: String(await freePort()) });
    started.push(agent);
    const bare = spawnTree([bareBuild.file], { BENCH_EDGE_URL: edge.url, BENCH_NODE_KEY: bareNode.key });
    started.push(bare);

    log("agent: waiting for the agent and the bare process to connect");
    await Promise.all([waitConnected(edge, agentNodeId, agent, "agent"), waitConnected(edge, bareNode.nodeId, bare, "bare")]);
    log(`agent: both connected; settling ${settings.settleSeconds} s, then idle for ${settings.idleSeconds} s`);
    await sleep(settings.settleSeconds * 1000);

    const agentSamples: TreeSample[] = [];
    const bareSamples: TreeSample[] = [];
    const load = { start: loadavg()[0]!, end: 0 };
    const deadline = Date.now() + settings.idleSeconds * 1000;
    for (;;) {
      const a = sampleTree(agent.child.pid!);
      const b = sampleTree(bare.child.pid!);
      if (!a || !b) throw new Error(`agent: the ${a ? "bare process" : "agent"} exited while idle\n${tail(a ? bare : agent)}`);
      agentSamples.push(a);
      bareSamples.push(b);
      if (Date.now() >= deadline) break;
      await sleep(Math.min(SAMPLE_EVERY_MS, Math.max(0, deadline - Date.now())));
    }
    load.end = loadavg()[0]!;

    const failures: string[] = [];
    for (const [name, id] of [
      ["agent", agentNodeId],
      ["bare", bareNode.nodeId],
    ] as const) {
      if (!(await isConnected(edge, id))) failures.push(`agent: the ${name} process was not connected at the end of the idle window`);
    }
    const agentFigures = figures(agentSamples);
    const bareFigures = figures(bareSamples);
    if (agentFigures.pidsSeen > agentFigures.processes)
      failures.push(`agent: ${agentFigures.pidsSeen - agentFigures.processes} agent process(es) restarted while idle`);
    const rssPerAgentProcessMb = agentFigures.rssMbMean / agentFigures.processes;
    return {
      settings,
      built: { agent: agentBuild.file, agentBytes: agentBuild.size, bare: bareBuild.file, bareBytes: bareBuild.size, node: NODE22 },
      agent: agentFigures,
      bare: bareFigures,
      rssPerAgentProcessMb,
      rssRatio: rssPerAgentProcessMb / bareFigures.rssMbMean,
      samples: agentSamples.length,
      windowSeconds: (agentSamples.at(-1)!.at - agentSamples[0]!.at) / 1000,
      loadAverage: load,
      targets: AGENT_TARGETS,
      failures,
    };
  } finally {
    await stopAll();
    unregister();
    await stopEdge(edge);
  }
}

function figures(samples: TreeSample[]): TreeFigures {
  const first = samples[0]!;
  const last = samples.at(-1)!;
  const rss = samples.map((s) => s.rssMb);
  const seconds = (last.at - first.at) / 1000;
  const cpuSeconds = last.cpuSeconds - first.cpuSeconds;
  return {
    rssMbMean: rss.reduce((a, b) => a + b, 0) / rss.length,
    rssMbMin: Math.min(...rss),
    rssMbMax: Math.max(...rss),
    processes: last.pids.length,
    commands: [...new Set(samples.flatMap((s) => s.commands))],
    cpuPct: seconds > 0 ? (cpuSeconds / seconds) * 100 : 0,
    cpuSeconds,
    pidsSeen: new Set(samples.flatMap((s) => s.pids)).size,
    rssMbPerProcess: last.rssMbByPid.map((mb) => Math.round(mb * 10) / 10),
    rssAnonMbPerProcess: last.rssAnonMbByPid.map((mb) => Math.round(mb * 10) / 10),
  };
}
