/**
 * How long the agent takes from its start to the cloud showing it online, against a bare Node
 * process that opens the same WebSocket with the same kind of credentials:
 *   - agent: `buhdi-node run` of the release bundle (as agent-idle.ts starts it and as installs
 *     run it): the supervisor, which starts the node program, which connects;
 *   - bare: bench/bare-ws.ts, built and run the same way on the same Node binary.
 * Both against one local edge; the clock runs from just before the spawn to the first answer of
 * `GET /api/nodes/:id` (the admin API the dashboard reads a node's state from) that says the node
 * is connected and online. It is polled every POLL_MS, so each figure is late by up to that.
 * For information, a third side: the bare process behind a bare supervisor of its own (the same
 * file started as its own child with an IPC channel, BENCH_BARE_SUPERVISED=1), so two Node starts
 * in a row as the agent's are: agent_start_ratio_vs_supervised_bare is what the agent adds beyond
 * being two processes.
 * Runs alternate (agent, bare, supervised bare, agent, ...; BENCH_AGENT_START_RUNS each, default 5);
 * between runs the process is stopped and the edge has seen the socket close, so every run starts
 * offline. agent_start_ratio = median agent ÷ median bare (target <= 1.5).
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import path from "node:path";
import { freePort, type LocalEdge } from "../scripts/local-edge.ts";
import { buildAgentAndBare, runCli, type Started, spawnTree, stopTree, tail } from "./agent-process.ts";
import { onStop, startEdge, stopEdge } from "./edges.ts";
import { createCode, createOwner, enrollNode } from "./fleet.ts";
import { log, positiveInt, sleep } from "./settings.ts";

export const AGENT_START_TARGET_RATIO = 1.5;
const POLL_MS = 25;
const ONLINE_TIMEOUT_MS = 60_000;
const OFFLINE_TIMEOUT_MS = 30_000;

export type AgentStartFigures = {
  agent_start_to_online_s: number;
  bare_start_to_online_s: number;
  agent_start_ratio: number;
  agent_start_target_ratio: number;
  agent_start_target_met: boolean;
  supervised_bare_start_to_online_s: number;
  agent_start_ratio_vs_supervised_bare: number;
  agent_start_runs: {
    agent_s: number[];
    bare_s: number[];
    supervised_bare_s: number[];
    poll_ms: number;
    load: { start: number; end: number };
  };
};

export async function benchAgentStart(): Promise<AgentStartFigures> {
  const runs = positiveInt("BENCH_AGENT_START_RUNS", 5);
  log("agent-start: starting an edge (Miniflare directly)");
  const edge = await startEdge({ direct: true });
  const home = await mkdtemp(path.join(tmpdir(), "buhdi-bench-start-"));
  const buildDir = await mkdtemp(path.join(tmpdir(), "buhdi-bench-start-build-"));
  let running: Started | null = null;
  const stopAll = async () => {
    if (running) await stopTree(running.child);
    await rm(home, { recursive: true, force: true });
    await rm(buildDir, { recursive: true, force: true });
  };
  const unregister = onStop(stopAll);
  try {
    const built = await buildAgentAndBare(buildDir);
    const ownerId = await createOwner(edge);
    const code = await createCode(edge, ownerId, "bench-agent-start");
    await runCli(built.agent.file, ["enroll", code, "--server", edge.url], home);
    const agentNodeId = (JSON.parse(await readFile(path.join(home, "config.json"), "utf8")) as { node_id: string }).node_id;
    const bare = await enrollNode(edge, ownerId, "bench-bare-start");

    const once = async (name: string, nodeId: string, args: string[], env: Record<string, string>): Promise<number> => {
      await waitOffline(edge, nodeId);
      const t0 = performance.now();
      running = spawnTree(args, env);
      const seconds = (await waitOnline(edge, nodeId, running, name, t0)) / 1000;
      await stopTree(running.child);
      running = null;
      return seconds;
    };
    const load = { start: loadavg()[0]!, end: 0 };
    const agentS: number[] = [];
    const bareS: number[] = [];
    const supervisedS: number[] = [];
    const bareEnv = { BENCH_EDGE_URL: edge.url, BENCH_NODE_KEY: bare.key };
    for (let i = 0; i < runs; i++) {
      const port = String(await freePort());
      agentS.push(await once("agent", agentNodeId, [built.agent.file, "run"], { BUHDI_NODE_HOME: home, BUHDI_NODE_PORT: port }));
      bareS.push(await once("bare", bare.nodeId, [built.bare.file], bareEnv));
      supervisedS.push(await once("supervised bare", bare.nodeId, [built.bare.file], { ...bareEnv, BENCH_BARE_SUPERVISED: "1" }));
      log(
        `agent-start: run ${i + 1}/${runs}: agent ${agentS.at(-1)!.toFixed(3)} s, bare ${bareS.at(-1)!.toFixed(3)} s, supervised bare ${supervisedS.at(-1)!.toFixed(3)} s`,
      );
    }
    load.end = loadavg()[0]!;
    const ratio = median(agentS) / median(bareS);
    return {
      agent_start_to_online_s: round3(median(agentS)),
      bare_start_to_online_s: round3(median(bareS)),
      agent_start_ratio: round3(ratio),
      agent_start_target_ratio: AGENT_START_TARGET_RATIO,
      agent_start_target_met: ratio <= AGENT_START_TARGET_RATIO,
      supervised_bare_start_to_online_s: round3(median(supervisedS)),
      agent_start_ratio_vs_supervised_bare: round3(median(agentS) / median(supervisedS)),
      agent_start_runs: {
        agent_s: agentS.map(round3),
        bare_s: bareS.map(round3),
        supervised_bare_s: supervisedS.map(round3),
        poll_ms: POLL_MS,
        load,
      },
    };
  } finally {
    await stopAll();
    unregister();
    await stopEdge(edge);
  }
}

export function printAgentStart(f: AgentStartFigures): void {
  const r = f.agent_start_runs;
  console.log(`\nStart to online: buhdi-node run (release bundle) vs a bare Node WebSocket, same edge, runs alternated`);
  console.log(
    `agent runs (s): ${r.agent_s.join(", ")}; bare runs (s): ${r.bare_s.join(", ")}; supervised bare runs (s): ${r.supervised_bare_s.join(", ")}; polled every ${r.poll_ms} ms`,
  );
  console.log(`load ${r.load.start.toFixed(2)} → ${r.load.end.toFixed(2)}`);
  console.log(
    `agent_start_to_online_s = ${f.agent_start_to_online_s} (median), bare ${f.bare_start_to_online_s}; agent_start_ratio = ${f.agent_start_ratio.toFixed(3)}  (target <= ${f.agent_start_target_ratio}: ${f.agent_start_target_met ? "MET" : "NOT MET"})`,
  );
  console.log(
    `supervised bare ${f.supervised_bare_start_to_online_s} s (median); agent_start_ratio_vs_supervised_bare = ${f.agent_start_ratio_vs_supervised_bare.toFixed(3)}  (information: what the agent adds beyond two processes)`,
  );
}

/** ms from t0 until the edge says the node is connected and online. */
async function waitOnline(edge: LocalEdge, nodeId: string, started: Started, name: string, t0: number): Promise<number> {
  const deadline = t0 + ONLINE_TIMEOUT_MS;
  while (performance.now() < deadline) {
    const { exitCode, signalCode } = started.child;
    if (exitCode !== null || signalCode !== null)
      throw new Error(`agent-start: the ${name} process exited before it was online\n${tail(started)}`);
    const state = await nodeState(edge, nodeId);
    if (state.connected && (state.status === "online" || state.status === "degraded")) return performance.now() - t0;
    await sleep(POLL_MS);
  }
  throw new Error(`agent-start: the ${name} process was not online within ${ONLINE_TIMEOUT_MS / 1000} s\n${tail(started)}`);
}

/** Until the edge no longer holds a socket of this node (the previous run's process is gone). */
async function waitOffline(edge: LocalEdge, nodeId: string): Promise<void> {
  const deadline = Date.now() + OFFLINE_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (!(await nodeState(edge, nodeId)).connected) return;
    await sleep(100);
  }
  throw new Error(`agent-start: node ${nodeId} still connected ${OFFLINE_TIMEOUT_MS / 1000} s after its process was stopped`);
}

async function nodeState(edge: LocalEdge, nodeId: string): Promise<{ connected?: boolean; status?: string }> {
  const res = await fetch(`${edge.url}/api/nodes/${nodeId}`, { headers: { authorization: `Bearer ${edge.adminToken}` } });
  if (!res.ok) throw new Error(`agent-start: GET /api/nodes/${nodeId} answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as { connected?: boolean; status?: string };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}
