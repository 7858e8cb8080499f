/**
 * The soak's real agents: each one `buhdi-node run` (supervisor + node program, from the
 * sources, as 0.3.0) in a home of its own, enrolled through the real CLI, talking to the edge
 * through the fault proxy. Everything an agent prints goes to <home>/agent.log, appended across
 * restarts: that log and the files in its home are what the soak later counts from.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream } from "node:fs";
import { access, readdir, readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { homePaths } from "../../agent/core/paths.ts";
import { readEndpoint } from "../../agent/program/endpoint-record.ts";
import { REPO_ROOT } from "../local-edge.ts";
import type { RssSample } from "./invariants.ts";

const NODE = path.join(REPO_ROOT, "node_modules", ".bin", "node");
const CLI = path.join(REPO_ROOT, "agent", "cli.ts");
const CRASH_HOOK = pathToFileURL(path.join(REPO_ROOT, "scripts", "soak", "crash-hook.ts")).href;

export type CrashKind = "SIGKILL" | "SIGABRT" | "uncaught_known" | "uncaught_unknown";
/** The message of the crash the soak's known issue matches, and of the one no known issue matches. */
export const KNOWN_CRASH = "SoakKnownFault: the relay socket closed under us";
export const UNKNOWN_CRASH = "SoakUnknownFault: the settings file vanished";

export type SoakAgent = {
  name: string;
  home: string;
  nodeId: string;
  running(): boolean;
  start(): void;
  /** SIGTERM: the agent says going_away and stops (a computer going to sleep the proper way). */
  stop(): Promise<void>;
  /** SIGKILL of supervisor and program at once: a power cut, no goodbye. */
  powerCut(): Promise<void>;
  /** Crashes the node program; false if there was no program to crash. */
  crash(kind: CrashKind): Promise<boolean>;
  /** An update is on trial (a crash now would roll it back, on purpose). */
  onTrial(): Promise<boolean>;
  /** RSS of the supervisor and of the program now holding the endpoint (null if not running). */
  rss(): Promise<RssSample | null>;
  log(): Promise<string>;
  /** What the agent still owes the cloud: spool entries, refused entries, crash.log bytes not reported. */
  owed(): Promise<{ spooled: number; rejected: number; crashLogBytes: number }>;
};

/** Clocks for the soak: reconnect within 0.2-2 s, retry the spool every 500 ms, restart after 200 ms. */
const AGENT_ENV = {
  BUHDI_NODE_PORT: "0",
  BUHDI_NODE_RECONNECT_BASE_MS: "200",
  BUHDI_NODE_RECONNECT_CAP_MS: "2000",
  BUHDI_NODE_RETRY_TICK_MS: "500",
  BUHDI_NODE_RESTART_BASE_MS: "200",
  BUHDI_NODE_STABLE_RUN_MS: "3000",
  BUHDI_NODE_CRASH_LOOP_WINDOW_MS: "3000",
  BUHDI_NODE_UPDATE_HEALTHY_MS: "3000",
  BUHDI_NODE_DOWNLOAD_RETRY_MS: "500",
  BUHDI_NODE_DOWNLOAD_IDLE_MS: "5000",
};

export async function enroll(home: string, code: string, server: string): Promise<string> {
  const child = spawn(NODE, [CLI, "enroll", code, "--server", server], {
    cwd: REPO_ROOT,
    env: { ...process.env, BUHDI_NODE_HOME: home },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr.on("data", (d: Buffer) => (output += d.toString()));
  const code_ = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  if (code_ !== 0) throw new Error(`buhdi-node enroll failed in ${home}: ${output}`);
  return (JSON.parse(await readFile(homePaths(home).config, "utf8")) as { node_id: string }).node_id;
}

export function soakAgent(name: string, home: string, nodeId: string, env: Record<string, string>): SoakAgent {
  const paths = homePaths(home);
  const logFile = path.join(home, "agent.log");
  let supervisor: ChildProcess | null = null;
  const alive = (child: ChildProcess | null): child is ChildProcess =>
    child !== null && child.exitCode === null && child.signalCode === null;
  const programPid = async (): Promise<number | null> => {
    const endpoint = await readEndpoint(paths.endpoint);
    if (!endpoint) return null;
    try {
      process.kill(endpoint.pid, 0);
      return endpoint.pid;
    } catch {
      return null;
    }
  };
  const exited = (child: ChildProcess, ms: number) =>
    new Promise<void>((resolve) => {
      if (!alive(child)) return resolve();
      const timer = setTimeout(resolve, ms);
      child.once("exit", () => {
        clearTimeout(timer);
        resolve();
      });
    });
  const rssKb = async (pid: number): Promise<number> => {
    const status = await readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  };

  return {
    name,
    home,
    nodeId,
    running: () => alive(supervisor),
    start() {
      if (alive(supervisor)) return;
      const out = createWriteStream(logFile, { flags: "a" });
      const child = spawn(NODE, [CLI, "run"], {
        cwd: REPO_ROOT,
        env: {
          ...process.env,
          ...AGENT_ENV,
          ...env,
          BUHDI_NODE_HOME: home,
          NODE_OPTIONS: `--import ${CRASH_HOOK}`,
        },
        stdio: ["ignore", "pipe", "pipe"],
      });
      child.stdout?.pipe(out, { end: false });
      child.stderr?.pipe(out, { end: false });
      child.once("exit", () => setTimeout(() => out.end(), 100));
      supervisor = child;
    },
    async stop() {
      if (!alive(supervisor)) return;
      supervisor.kill("SIGTERM");
      await exited(supervisor, 10_000);
      if (alive(supervisor)) await this.powerCut();
    },
    async powerCut() {
      const program = await programPid();
      if (alive(supervisor)) supervisor.kill("SIGKILL");
      if (program !== null) process.kill(program, "SIGKILL");
      if (supervisor) await exited(supervisor, 5_000);
    },
    async crash(kind) {
      const pid = await programPid();
      if (pid === null || !alive(supervisor)) return false;
      if (kind === "SIGKILL" || kind === "SIGABRT") {
        process.kill(pid, kind);
        return true;
      }
      await writeFile(path.join(home, "soak-throw.txt"), kind === "uncaught_known" ? KNOWN_CRASH : UNKNOWN_CRASH);
      process.kill(pid, "SIGUSR2");
      return true;
    },
    onTrial: () =>
      access(paths.updateTrial).then(
        () => true,
        () => false,
      ),
    async rss() {
      const pid = await programPid();
      if (!alive(supervisor) || supervisor.pid === undefined || pid === null) return null;
      return {
        at: Date.now(),
        supervisorPid: supervisor.pid,
        programPid: pid,
        supervisorKb: await rssKb(supervisor.pid),
        programKb: await rssKb(pid),
      };
    },
    log: () => readFile(logFile, "utf8").catch(() => ""),
    async owed() {
      const count = async (dir: string) =>
        (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith(".json") && !f.startsWith(".")).length;
      const crashLogBytes = (await stat(paths.crashLog).catch(() => null))?.size ?? 0;
      return { spooled: await count(paths.spool), rejected: await count(paths.rejected), crashLogBytes };
    },
  };
}
