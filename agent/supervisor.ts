/**
 * `buhdi-node run`: the supervisor. It does little on purpose, so that it does not die: it runs
 * the node program (`buhdi-node node`, same Node binary, same CLI) as a child and starts it
 * again when it dies, within seconds instead of the OS scheduler's minutes.
 *   - When the program dies it appends an EXIT line (code or signal, time, how long it ran) to
 *     crash.log, also when the program could write nothing itself (SIGKILL, out of memory, a
 *     native crash). Only while no program runs, so it never races the program's rotation.
 *   - Restart delays and crash-loop handling are restart-policy.ts; what the next program is
 *     told about a loop travels in its environment (crash-loop.ts).
 *   - SIGTERM/SIGINT are forwarded to the program (which says going_away and exits), waited for
 *     (bounded), and the supervisor exits 0 without a restart.
 *   - The program has an IPC channel to us only so that it notices when we are gone (run.ts).
 * The OS scheduler stays the net for the supervisor itself.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { appendFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadEnrollment } from "./config.ts";
import { installCrashCapture } from "./crash-capture.ts";
import { formatExitRecord } from "./crash-log.ts";
import { CRASH_LOOP_ENV, encodeCrashLoop } from "./crash-loop.ts";
import { log } from "./node-context.ts";
import { homePaths, nodeHome } from "./paths.ts";
import { afterExit, beforeStart, initialRestartState } from "./restart-policy.ts";
import { SUPERVISED_ENV } from "./run.ts";
import { restartTuning } from "./tuning.ts";

const CLI_PATH = fileURLToPath(new URL("./cli.ts", import.meta.url));
/** The program's own stop is bounded at 3 s; after this it is killed. */
const STOP_TIMEOUT_MS = 10_000;

export async function runSupervisor(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const paths = homePaths(nodeHome(env));
  // A bug in the supervisor is a crash like any other: recorded, then reported by the next start.
  installCrashCapture(paths.crashLog);
  // Not enrolled: say so and stop (exit 2) instead of restarting a program that can only fail.
  await loadEnrollment(paths);
  const tuning = restartTuning(env);

  let state = initialRestartState();
  let child: ChildProcess | null = null;
  let restartTimer: NodeJS.Timeout | null = null;
  let stopping = false;

  const start = (): void => {
    restartTimer = null;
    const startedAt = Date.now();
    const planned = beforeStart(state, startedAt, tuning);
    state = planned.state;
    const childEnv: NodeJS.ProcessEnv = { ...env, [SUPERVISED_ENV]: "1" };
    delete childEnv[CRASH_LOOP_ENV];
    if (planned.info) childEnv[CRASH_LOOP_ENV] = encodeCrashLoop(planned.info);

    const program = spawn(process.execPath, [...process.execArgv, CLI_PATH, "node"], {
      env: childEnv,
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    child = program;
    let ended = false;
    const onEnd = (code: number | null, signal: NodeJS.Signals | null, error?: Error): void => {
      if (ended) return;
      ended = true;
      child = null;
      const endedAt = Date.now();
      const ranMs = endedAt - startedAt;
      const how = error ? `could not be started (${error.message})` : signal !== null ? `was killed by ${signal}` : `exited with code ${code}`;
      if (stopping) {
        log(`the node program (pid ${program.pid ?? "none"}) ${how}; stopped`);
        process.exit(0);
      }
      const crashed = code !== 0 || signal !== null;
      if (crashed) appendExitRecord(paths.crashLog, formatExitRecord(new Date(endedAt), { code, signal }, ranMs));
      const next = afterExit(state, { startedAt, endedAt, crashed }, tuning);
      state = next.state;
      log(`the node program (pid ${program.pid ?? "none"}) ${how} after ${(ranMs / 1000).toFixed(1)} s; ` +
        `starting it again in ${(next.delayMs / 1000).toFixed(1)} s`);
      restartTimer = setTimeout(start, next.delayMs);
    };
    // 'error' without a pid: the process was never created, and 'exit' may never come.
    program.once("error", (error) => {
      if (program.pid === undefined) onEnd(null, null, error);
      else log(`node program (pid ${program.pid}): ${error.message}`);
    });
    program.once("exit", (code, signal) => onEnd(code, signal));
    if (program.pid !== undefined) log(`started the node program (pid ${program.pid})`);
  };

  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    log(`${signal} received, stopping the node program`);
    if (restartTimer) clearTimeout(restartTimer);
    if (!child) process.exit(0);
    child.kill(signal);
    const program = child;
    setTimeout(() => {
      log(`the node program did not stop within ${STOP_TIMEOUT_MS / 1000} s; killing it`);
      program.kill("SIGKILL");
    }, STOP_TIMEOUT_MS).unref();
  };
  // A second signal while stopping changes nothing: the program's stop is bounded anyway.
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));

  start();
}

function appendExitRecord(crashLog: string, record: string): void {
  try {
    mkdirSync(path.dirname(crashLog), { recursive: true, mode: 0o700 });
    appendFileSync(crashLog, record, { mode: 0o600 });
  } catch (error) {
    log(`could not write ${crashLog}: ${error instanceof Error ? error.message : String(error)}`);
  }
  process.stderr.write(record);
}
