/**
 * Nana's computer, as the demo runs it: the agent installed as one release bundle, enrolled
 * through its own CLI, and `buhdi-node run` (supervisor + node program) started the way the
 * OS's scheduled task would start it. Also reads what the agent keeps on disk, which is what a
 * technician with access to the laptop would look at.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { readEndpoint, type EndpointRecord } from "../../agent/program/endpoint-record.ts";
import { homePaths } from "../../agent/core/paths.ts";
import { readRolledBack, readVersionName } from "../../agent/update/version-store.ts";
import { REPO_ROOT } from "../local-edge.ts";

const NODE = path.join(REPO_ROOT, "node_modules", ".bin", "node");

export type AgentProcess = { child: ChildProcess; output(): string; exited: Promise<void> };

function runBundle(bundle: string, args: string[], env: Record<string, string>): AgentProcess {
  const child = spawn(NODE, [bundle, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr.on("data", (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return { child, output: () => output, exited };
}

export async function enroll(bundle: string, code: string, server: string, env: Record<string, string>): Promise<string> {
  const enrolling = runBundle(bundle, ["enroll", code, "--server", server], env);
  await enrolling.exited;
  if (enrolling.child.exitCode !== 0) throw new Error(`buhdi-node enroll failed: ${enrolling.output()}`);
  const config = JSON.parse(await readFile(homePaths(env.BUHDI_NODE_HOME!).config, "utf8")) as { node_id: string };
  return config.node_id;
}

export function startSupervisor(bundle: string, env: Record<string, string>): AgentProcess {
  return runBundle(bundle, ["run"], env);
}

/** What the agent's files say: the program on the port, the version `current` names, rollbacks. */
export async function agentFiles(
  home: string,
): Promise<{ endpoint: EndpointRecord | null; current: string | null; rolledBack: string[]; crashLines: string[] }> {
  const paths = homePaths(home);
  const read = (file: string) => readFile(file, "utf8").catch(() => "");
  const crashText = `${await read(paths.crashLogPrev)}${await read(paths.crashLog)}`;
  return {
    endpoint: await readEndpoint(paths.endpoint),
    current: await readVersionName(paths.current),
    rolledBack: [...(await readRolledBack(paths))],
    crashLines: crashText.split("\n").filter((line) => line.trim() !== ""),
  };
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
