/**
 * `buhdi-node run` as a supervisor, with real processes and no cloud (the home points at a
 * closed port, so crash.log is never rotated away and can be read): a dying node program is
 * started again within seconds, every death leaves an EXIT line (also a SIGKILL, which leaves
 * nothing else), a stop signal stops everything with exit 0, and the node program never
 * outlives its supervisor.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  CLI,
  NODE_BIN,
  REPO_ROOT,
  closedPortUrl,
  collect,
  fakeEnrolledHome,
  holdPort,
  spawnCli,
  tempHome,
  waitForOutput,
} from "../../support/helpers.ts";
import { startWsServer } from "../../support/ws-server.ts";
import { eventually } from "../../support/live-node.ts";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const LISTENING = /listening on (http:\/\/127\.0\.0\.1:\d+)/g;
const RECORD_TIME = /^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\] /;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function startSupervisor(env: Record<string, string> = {}) {
  const home = await fakeEnrolledHome(await closedPortUrl());
  const child = spawnCli(["run"], { BUHDI_NODE_HOME: home, BUHDI_NODE_PORT: "0", BUHDI_NODE_RESTART_BASE_MS: "100", ...env });
  const programPids = new Set<number>();
  cleanups.push(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    for (const pid of programPids) if (isAlive(pid)) process.kill(pid, "SIGKILL");
  });
  let stdout = "";
  child.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
  const exited = collect(child, 60_000);
  /** The URL of the n-th node program that came up (1-based), once it listens. */
  const nthProgram = async (n: number): Promise<{ url: string; pid: number }> => {
    const urls = await eventually(
      () => [...stdout.matchAll(LISTENING)].map((m) => m[1]!),
      (found) => found.length >= n,
    );
    const url = urls[n - 1];
    if (!url) throw new Error(`program #${n} never listened; stdout: ${stdout}`);
    const health = (await (await fetch(`${url}/health`)).json()) as { pid: number };
    programPids.add(health.pid);
    return { url, pid: health.pid };
  };
  const crashLog = () => readFile(path.join(home, "crash.log"), "utf8").catch(() => "");
  return { home, child, exited, nthProgram, crashLog };
}

describe("the supervisor", () => {
  it("restarts a node program that keeps crashing, sooner than a second, backing off, with one EXIT line per death", async () => {
    const held = await holdPort(); // every start dies of EADDRINUSE, the zombie
    cleanups.push(held.close);
    const s = await startSupervisor({ BUHDI_NODE_PORT: String(held.port) });

    const log = await eventually(s.crashLog, (text) => (text.match(/ EXIT code=1 /g) ?? []).length >= 3);
    const lines = log.trimEnd().split("\n");
    const records = lines.filter((line) => line.includes("UNCAUGHT: Error: listen EADDRINUSE"));
    const exits = lines.filter((line) => / EXIT code=1 signal=null after \d+\.\d s on \S+$/.test(line));
    expect(records.length).toBeGreaterThanOrEqual(3);
    expect(exits.length).toBeGreaterThanOrEqual(3);
    // Under the supervisor the program's record has no EXIT line of its own: one per death.
    expect(lines.filter((line) => line === "EXIT code=1")).toEqual([]);
    for (const exit of exits) expect(exit).toMatch(RECORD_TIME);
    // Each record is followed by its exit line, never by another record.
    const order = lines.filter((line) => RECORD_TIME.test(line)).map((line) => (line.includes(" EXIT ") ? "exit" : "record"));
    expect(order.join(",")).toMatch(/^(record,exit,)*(record,exit|record)?$/);

    // The port comes free: the next start stays up.
    await held.close();
    const program = await s.nthProgram(1);
    expect(isAlive(program.pid)).toBe(true);
    s.child.kill("SIGTERM");
    const result = await s.exited;
    expect(result.code).toBe(0);
    // At once after the first exit, then the 100 ms base (BUHDI_NODE_RESTART_BASE_MS), doubling while the program dies young.
    const delays = [...result.stderr.matchAll(/starting it again in (\d+\.\d) s/g)].map((m) => Number(m[1]));
    expect(delays.slice(0, 3)).toEqual([0, 0.1, 0.2]);
  });

  it("a node program killed with SIGKILL (no record of its own) gets an EXIT line and is started again", async () => {
    const s = await startSupervisor();
    const first = await s.nthProgram(1);
    process.kill(first.pid, "SIGKILL");

    const second = await s.nthProgram(2);
    expect(second.pid).not.toBe(first.pid);
    const log = await s.crashLog();
    expect(log).toMatch(/^\[\d{4}-\d\d-\d\dT[\d:.]+Z\] EXIT code=null signal=SIGKILL after \d+\.\d s on \S+\n$/);
    s.child.kill("SIGTERM");
    expect((await s.exited).code).toBe(0);
  });

  it.each(["SIGTERM", "SIGINT"] as const)(
    "%s stops the node program and the supervisor with exit 0: no restart, no EXIT line",
    async (signal) => {
      const s = await startSupervisor();
      const program = await s.nthProgram(1);
      s.child.kill(signal);
      const result = await s.exited;
      expect(result.code).toBe(0);
      expect(isAlive(program.pid)).toBe(false);
      expect(result.stdout.match(LISTENING)).toHaveLength(1);
      expect(await s.crashLog()).toBe("");
    },
  );

  it("Ctrl-C in a terminal (SIGINT to the whole group, again while stopping) still lets the program say going_away and stop cleanly", async () => {
    // A cloud that accepts the socket but never answers a close: the program's stop takes ~1 s.
    const cloud = await startWsServer({ answerClose: false });
    cleanups.push(cloud.close);
    const home = await fakeEnrolledHome(new URL(cloud.url).origin);
    // Its own process group, as a terminal makes one: the signal goes to the whole group.
    const child = spawn(NODE_BIN, [CLI, "run"], {
      cwd: REPO_ROOT,
      env: { ...process.env, BUHDI_NODE_HOME: home, BUHDI_NODE_PORT: "0" },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    cleanups.push(() => {
      if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, "SIGKILL");
    });
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = collect(child);
    await waitForOutput(child, "listening on");
    await eventually(
      () => cloud.connections.length,
      (n) => n > 0,
    );
    const programPid = Number(/started the node program \(pid (\d+)\)/.exec(stderr)?.[1]);

    process.kill(-child.pid!, "SIGINT");
    await eventually(
      () => stderr,
      (text) => /SIGINT received, stopping\n/.test(text),
    );
    process.kill(programPid, "SIGINT"); // the impatient second Ctrl-C, mid-goodbye
    const result = await exited;

    expect(result.code).toBe(0);
    // Killed by that second signal it would say "was killed by SIGINT".
    expect(stderr).toMatch(/the node program \(pid \d+\) exited with code 0; stopped/);
    const texts = cloud.connections[0]!.frames.filter((f) => f.opcode === 0x1).map(
      (f) => JSON.parse(f.payload.toString()) as { type: string },
    );
    expect(texts.at(-1)).toEqual({ type: "going_away", reason: "shutdown" });
  });

  it("the node program does not outlive a supervisor that was killed (it would hold the port)", async () => {
    const s = await startSupervisor();
    const program = await s.nthProgram(1);
    s.child.kill("SIGKILL");
    await s.exited;
    expect(
      await eventually(
        () => isAlive(program.pid),
        (alive) => !alive,
        10_000,
      ),
    ).toBe(false);
  });
});

describe("`buhdi-node run` on a computer that is not enrolled", () => {
  it("says so and exits 2 instead of restarting a program that can only fail", async () => {
    const child: ChildProcess = spawnCli(["run"], { BUHDI_NODE_HOME: await tempHome() });
    const result = await collect(child);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/not enrolled/);
    expect(result.stderr).not.toMatch(/started the node program/);
  });
});
