/**
 * A node run the way an owner runs it (`buhdi-node run`: supervisor + node program) against a
 * local edge, with fast clocks, and the polling the live tests need. Each started node is
 * tracked so a failing test still leaves no process behind.
 */
import type { ChildProcess } from "node:child_process";
import type { ConnectionHealth } from "../../agent/program/node-program.ts";
import { collect, spawnCli } from "./helpers.ts";
import type { CliResult } from "./helpers.ts";

/** Clocks for tests: reconnect in 0.1-1 s, retry the spool every 200 ms, restart after 100 ms. */
export const FAST_NODE_ENV = {
  BUHDI_NODE_PORT: "0",
  BUHDI_NODE_RECONNECT_BASE_MS: "100",
  BUHDI_NODE_RECONNECT_CAP_MS: "1000",
  BUHDI_NODE_RETRY_TICK_MS: "200",
  BUHDI_NODE_RESTART_BASE_MS: "100",
};

/**
 * The edge's clock for tests, production's at about 1/30: 1 s beats, offline after 3 s of silence,
 * a full heartbeat at least every 20 s (pings between), an open socket looked at every 40 s.
 */
export const FAST_EDGE_VARS = {
  HEARTBEAT_INTERVAL_SECONDS: "1",
  OFFLINE_GRACE_SECONDS: "3",
  FULL_HEARTBEAT_INTERVAL_SECONDS: "20",
  SILENCE_CHECK_SECONDS: "40",
};

export type LiveNode = {
  supervisor: ChildProcess;
  exited: Promise<CliResult>;
  /** All stdout so far (each node program prints "listening on <url>"). */
  stdout(): string;
  /** All stderr so far (the supervisor's and the programs' log lines). */
  stderr(): string;
  /** The current node program's local URL (the last one that listened). */
  url(): string;
  health(): Promise<{ pid: number; connection: ConnectionHealth }>;
  /** SIGKILL to supervisor and program at once: a power cut, no goodbye. */
  killHard(): Promise<void>;
};

/**
 * Polls `probe` until `ok` holds and returns that value. At the deadline it fails with what was
 * awaited and the last value seen, so a slow machine shows what was still missing instead of a
 * bare assertion diff on a value read too early.
 */
export async function eventually<T>(
  probe: () => Promise<T> | T,
  ok: (value: T) => boolean,
  timeoutMs = 30_000,
  what = "the awaited condition",
  pollMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`waited ${timeoutMs} ms for ${what}; last seen: ${describe(value)}`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

function describe(value: unknown): string {
  let text: string;
  try {
    text = typeof value === "string" ? value : JSON.stringify(value);
  } catch {
    text = String(value);
  }
  return text.length > 2_000 ? `${text.slice(0, 2_000)}… (${text.length} chars)` : text;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const LISTENING = /listening on (http:\/\/127\.0\.0\.1:\d+)/g;

export function liveNodes() {
  const started: Array<{ node: LiveNode; programPids: Set<number> }> = [];
  /** waitForListening false: for a node whose programs cannot listen (a crash loop). */
  const start = async (home: string, env: Record<string, string> = {}, waitForListening = true): Promise<LiveNode> => {
    const supervisor = spawnCli(["run"], { BUHDI_NODE_HOME: home, ...FAST_NODE_ENV, ...env });
    let out = "";
    let err = "";
    supervisor.stdout?.on("data", (d: Buffer) => (out += d.toString()));
    supervisor.stderr?.on("data", (d: Buffer) => (err += d.toString()));
    const exited = collect(supervisor, 120_000);
    const url = () => [...out.matchAll(LISTENING)].at(-1)?.[1] ?? "";
    const programPids = new Set<number>();
    const health = async () => {
      const body = (await (await fetch(`${url()}/health`)).json()) as { pid: number; connection: ConnectionHealth };
      programPids.add(body.pid);
      return body;
    };
    const node: LiveNode = {
      supervisor,
      exited,
      stdout: () => out,
      stderr: () => err,
      url,
      health,
      killHard: async () => {
        const { pid } = await health();
        supervisor.kill("SIGKILL");
        process.kill(pid, "SIGKILL");
        await exited;
      },
    };
    // Tracked before waiting: a node that never listens is still cleaned up.
    started.push({ node, programPids });
    if (!waitForListening) return node;
    await eventually(url, (u) => u !== "", 30_000, `the node to print "listening on" (stdout: ${out}, stderr: ${err})`).catch(() => {
      throw new Error(`the node never listened within 30 s; stdout: ${out}\nstderr: ${err}`);
    });
    return node;
  };
  const stopAll = async () => {
    for (const { node, programPids } of started.splice(0)) {
      if (node.supervisor.exitCode === null && node.supervisor.signalCode === null) node.supervisor.kill("SIGKILL");
      for (const pid of programPids) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
    }
  };
  return { start, stopAll };
}
