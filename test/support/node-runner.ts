/**
 * `run` started from any agent entry (the sources' cli.ts or a release bundle), the way an owner
 * starts it, with the test clocks of test/support/live-node.ts. Tracks every node program it
 * sees (by /health pid) so a failing test still leaves no process behind.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { CLI, NODE_BIN, REPO_ROOT } from "./helpers.ts";
import { FAST_NODE_ENV, eventually } from "./live-node.ts";

export type Health = { version: string; pid: number; connection: { connected: boolean } };

export type RunningNode = {
  supervisor: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** The newest node program's /health (it changes port on every start). */
  health(): Promise<Health>;
  /** Polls /health until `ok` holds (or the time is up; the last answer is returned). */
  healthWhen(ok: (health: Health) => boolean, timeoutMs?: number): Promise<Health | null>;
};

const LISTENING = /listening on (http:\/\/127\.0\.0\.1:\d+)/g;

export function nodeRunner() {
  const supervisors: ChildProcess[] = [];
  const programs = new Set<number>();

  const start = (entry: string, home: string, env: Record<string, string> = {}): RunningNode => {
    const supervisor = spawn(NODE_BIN, [entry, "run"], {
      cwd: REPO_ROOT,
      env: { ...process.env, BUHDI_NODE_HOME: home, ...FAST_NODE_ENV, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    supervisors.push(supervisor);
    let out = "";
    let err = "";
    supervisor.stdout?.on("data", (d: Buffer) => (out += d.toString()));
    supervisor.stderr?.on("data", (d: Buffer) => (err += d.toString()));
    const health = async (): Promise<Health> => {
      const url = [...out.matchAll(LISTENING)].at(-1)?.[1];
      if (!url) throw new Error("no node program has listened yet");
      const body = (await (await fetch(`${url}/health`)).json()) as Health;
      programs.add(body.pid);
      return body;
    };
    const healthWhen = async (ok: (h: Health) => boolean, timeoutMs = 20_000): Promise<Health | null> =>
      eventually(
        () => health().catch(() => null),
        (h) => h !== null && ok(h),
        timeoutMs,
      );
    return { supervisor, stdout: () => out, stderr: () => err, health, healthWhen };
  };

  const stopAll = (): void => {
    for (const supervisor of supervisors.splice(0)) {
      if (supervisor.exitCode === null && supervisor.signalCode === null) supervisor.kill("SIGKILL");
    }
    for (const pid of programs) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    programs.clear();
  };

  return { start, stopAll, CLI };
}
