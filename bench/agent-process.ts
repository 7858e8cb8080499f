/**
 * The agent's processes as the agent parts of the bench run them (agent-idle.ts, agent-start.ts):
 * the release bundle and the bare WebSocket baseline, both built by scripts/build-agent.ts and
 * started on the repo's Node 22 in process groups of their own, and the edge's view of whether a
 * node is connected.
 */
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { buildAgent } from "../scripts/build-agent.ts";
import { type LocalEdge, REPO_ROOT } from "../scripts/local-edge.ts";
import { AGENT_VERSION } from "../agent/core/version.ts";
import { sleep } from "./settings.ts";

export const NODE22 = path.join(REPO_ROOT, "node_modules", ".bin", "node");
const CLI_SOURCE = path.join(REPO_ROOT, "agent", "cli.ts");
const BARE_SOURCE = path.join(REPO_ROOT, "bench", "bare-ws.ts");
const CONNECT_TIMEOUT_MS = 60_000;

export type Started = { child: ChildProcess; output: string[] };

/** The release bundle (supervisor and node program in one file) and the bare baseline, built the same way into buildDir. */
export async function buildAgentAndBare(buildDir: string) {
  const agent = await buildAgent({ version: AGENT_VERSION, outDir: path.join(buildDir, "agent"), entry: CLI_SOURCE });
  const bare = await buildAgent({ version: AGENT_VERSION, outDir: path.join(buildDir, "bare"), entry: BARE_SOURCE });
  return { agent, bare };
}

/** Its own process group, so that stopTree can take down whatever it started. */
export function spawnTree(args: string[], env: Record<string, string>): Started {
  const child = spawn(NODE22, args, {
    cwd: REPO_ROOT,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env },
  });
  const output: string[] = [];
  const keep = (d: Buffer) => {
    output.push(d.toString());
    if (output.length > 200) output.splice(0, output.length - 200);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  return { child, output };
}

/** SIGTERM to the root (the supervisor forwards it and waits for the program), then SIGKILL to the group. */
export async function stopTree(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return killGroup(child);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([exited, new Promise((resolve) => (timer = setTimeout(resolve, 8_000)))]);
  clearTimeout(timer);
  killGroup(child);
}

export function killGroup(child: ChildProcess): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
  } catch {
    // already gone
  }
}

export async function runCli(cli: string, args: string[], home: string): Promise<void> {
  const { child, output } = spawnTree([cli, ...args], { BUHDI_NODE_HOME: home });
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => killGroup(child), 30_000);
    child.once("exit", (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  if (code !== 0) throw new Error(`agent: buhdi-node ${args[0]} exited ${code}\n${output.join("")}`);
}

export async function waitConnected(edge: LocalEdge, nodeId: string, started: Started, name: string): Promise<void> {
  const deadline = Date.now() + CONNECT_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const { exitCode, signalCode } = started.child;
    if (exitCode !== null || signalCode !== null) throw new Error(`agent: the ${name} process exited before connecting\n${tail(started)}`);
    if (await isConnected(edge, nodeId)) return;
    await sleep(500);
  }
  throw new Error(`agent: the ${name} process did not connect within ${CONNECT_TIMEOUT_MS / 1000} s\n${tail(started)}`);
}

export async function isConnected(edge: LocalEdge, nodeId: string): Promise<boolean> {
  const res = await fetch(`${edge.url}/api/nodes/${nodeId}`, { headers: { authorization: `Bearer ${edge.adminToken}` } });
  if (!res.ok) return false;
  return ((await res.json()) as { connected?: boolean }).connected === true;
}

export function tail(started: Started): string {
  return started.output.join("").slice(-3000);
}
