/**
 * Nana's computer, as the demo runs it: the agent installed by the Linux single executable's
 * `setup` (as the setup link's one-line install does), and `buhdi-node run` (supervisor + node
 * program) started the way the systemd unit would start it. Also reads what the agent keeps on
 * disk, which is what a technician with access to the laptop would look at.
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

/** A release bundle run by node, or the installed single executable run as itself. */
function runBundle(program: string, args: string[], env: Record<string, string>): AgentProcess {
  const [command, argv] = program.endsWith(".mjs") ? [NODE, [program, ...args]] : [program, args];
  const child = spawn(command, argv, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr.on("data", (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return { child, output: () => output, exited };
}

/**
 * What the setup link's one-line install does on Linux: the single executable's `setup` installs
 * it (BUHDI_INSTALL_DIR) and enrolls. --no-start: the demo starts `run` itself, the way the
 * systemd unit would, so it can kill and restart it.
 */
export async function installWithSetup(
  executable: string,
  code: string,
  server: string,
  env: Record<string, string>,
): Promise<{ nodeId: string; installed: string }> {
  const setup = runBundle(executable, ["setup", "--code", code, "--server", server, "--no-start"], env);
  await setup.exited;
  if (setup.child.exitCode !== 0) throw new Error(`buhdi-node setup failed: ${setup.output()}`);
  const config = JSON.parse(await readFile(homePaths(env.BUHDI_NODE_HOME!).config, "utf8")) as { node_id: string };
  return { nodeId: config.node_id, installed: path.join(env.BUHDI_INSTALL_DIR!, "buhdi-node") };
}

/** `program`: a bundle (.mjs, run by node) or the installed executable. */
export function startSupervisor(program: string, env: Record<string, string>): AgentProcess {
  return runBundle(program, ["run"], env);
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
