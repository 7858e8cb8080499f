/**
 * `buhdi-node run`: the supervisor. It does little on purpose, so that it does not die: it runs
 * the node program (`buhdi-node node`) as a child and starts it again when it dies, within
 * seconds instead of the OS scheduler's minutes.
 *   - Which program: `versions/<current>/buhdi-node.mjs` when an update is installed, else the
 *     agent the supervisor was started from (program-choice.ts). The supervisor itself is not
 *     replaced by updates: it stays the small, installed part that can always start something.
 *   - A program that installed an update exits with RESTART_INTO_CURRENT_EXIT_CODE: no crash,
 *     no delay, the new `current` starts at once.
 *   - A new version is on trial while update-trial.json names it: if it dies before
 *     BUHDI_NODE_UPDATE_HEALTHY_MS (60 s), it is rolled back (rollback.ts) and the previous
 *     version starts; once it has lived that long the program reports it healthy and ends the
 *     trial (update/trial.ts).
 *   - When the program dies it appends an EXIT line (code or signal, time, how long it ran) to
 *     crash.log, also when the program could write nothing itself (SIGKILL, out of memory, a
 *     native crash). Only while no program runs, so it never races the program's rotation.
 *   - Restart delays and crash-loop handling are restart-policy.ts; what the next program is
 *     told about a loop travels in its environment (crash/loop.ts).
 *   - SIGTERM/SIGINT are forwarded to the program (which says going_away and exits), waited for
 *     (bounded), and the supervisor exits 0 without a restart.
 *   - The program has an IPC channel to us only so that it notices when we are gone (run.ts).
 * The OS scheduler stays the net for the supervisor itself.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { appendFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import { loadEnrollment, NotEnrolledError } from "../core/config.ts";
import { deletePendingEnrollment, readPendingEnrollment } from "../core/pending-enrollment.ts";
import { installCrashCapture } from "../crash/capture.ts";
import { formatExitRecord } from "../crash/crash-log.ts";
import { CRASH_LOOP_ENV, encodeCrashLoop } from "./crash-loop-env.ts";
import { log } from "../core/log.ts";
import { type HomePaths, homePaths, nodeHome } from "../core/paths.ts";
import { RESTART_INTO_CURRENT_EXIT_CODE, chooseProgram } from "./program-choice.ts";
import type { NodeProgram } from "./program-choice.ts";
import { afterExit, beforeStart, initialRestartState } from "./restart-policy.ts";
import { SUPERVISED_ENV } from "./supervised.ts";
import { enrollRetryTiming, restartTuning, updateHealthyMs } from "./tuning.ts";
import { agentVersion } from "../core/version.ts";
import { clearTrial, readTrial, readVersionName } from "../update/version-store.ts";
import type { UpdateTrial } from "../update/version-store.ts";
import { messageOf } from "../core/errors.ts";

/** The program's own stop is bounded at 3 s; after this it is killed. */
const STOP_TIMEOUT_MS = 10_000;

export async function runSupervisor(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const paths = homePaths(nodeHome(env));
  // A bug in the supervisor is a crash like any other: recorded, then reported by the next start.
  installCrashCapture(paths.crashLog);
  // Not enrolled: enroll with the code setup saved while offline, once the cloud answers; with
  // no such code, say so and stop (exit 2) instead of restarting a program that can only fail.
  await enrolledOrPending(paths, env);
  const tuning = restartTuning(env);
  const healthyMs = updateHealthyMs(env);
  const baseVersion = agentVersion(env);

  let state = initialRestartState();
  let child: ChildProcess | null = null;
  let restartTimer: NodeJS.Timeout | null = null;
  let stopping = false;

  const scheduleStart = (delayMs: number): void => {
    restartTimer = setTimeout(() => void start(), delayMs);
  };

  /** The trial this program runs under, if it is the version update-trial.json names; a stale trial is removed. */
  const trialFor = async (program: NodeProgram): Promise<UpdateTrial | null> => {
    const trial = await readTrial(paths).catch(() => null);
    if (trial === null) return null;
    if (trial.version === program.version) return trial;
    // Written by an install that was killed before it switched `current`: never started.
    await clearTrial(paths).catch(() => undefined);
    return null;
  };

  const start = async (): Promise<void> => {
    restartTimer = null;
    if (stopping) return;
    const program = await chooseProgram(paths, log);
    const trial = await trialFor(program);
    if (stopping) return;
    const startedAt = Date.now();
    const planned = beforeStart(state, startedAt, tuning);
    state = planned.state;
    const childEnv: NodeJS.ProcessEnv = { ...env, [SUPERVISED_ENV]: "1" };
    delete childEnv[CRASH_LOOP_ENV];
    if (planned.info) childEnv[CRASH_LOOP_ENV] = encodeCrashLoop(planned.info);

    const spawned = spawn(process.execPath, program.args, {
      env: childEnv,
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    child = spawned;
    const name = program.version === null ? "the node program" : `the node program ${program.version}`;
    let ended = false;
    const onEnd = async (code: number | null, signal: NodeJS.Signals | null, error?: Error): Promise<void> => {
      if (ended) return;
      ended = true;
      child = null;
      const endedAt = Date.now();
      const ranMs = endedAt - startedAt;
      const how = error
        ? `could not be started (${error.message})`
        : signal !== null
          ? `was killed by ${signal}`
          : `exited with code ${code}`;
      if (stopping) {
        log(`${name} (pid ${spawned.pid ?? "none"}) ${how}; stopped`);
        process.exit(0);
      }
      if (code === RESTART_INTO_CURRENT_EXIT_CODE && signal === null) {
        const next = await readVersionName(paths.current).catch(() => null);
        if (next !== program.version) {
          log(`${name} (pid ${spawned.pid ?? "none"}) installed ${next ?? "a new version"}; starting it now`);
          scheduleStart(0);
          return;
        }
        // Asked for a restart without changing `current`: a fault, restarted like any other.
      }
      const crashed = code !== 0 || signal !== null;
      if (crashed)
        appendExitRecord(paths.crashLog, formatExitRecord(new Date(endedAt), { code, signal }, ranMs, program.version ?? baseVersion));
      let rolledBackTo: string | null = null;
      if (trial !== null) {
        if (crashed && ranMs < healthyMs) {
          try {
            // Imported only now: most supervisors never roll back, and this path brings the
            // spool, the crash reporter's scrubber and their schemas (node-context.ts).
            const [{ rollBack }, { realScrubber }] = await Promise.all([
              import("../update/rollback.ts"),
              import("../program/node-context.ts"),
            ]);
            rolledBackTo = await rollBack({
              paths,
              trial,
              startedAt,
              baseVersion,
              scrub: realScrubber(),
              platform: process.platform,
              arch: process.arch,
              now: new Date(),
              log,
            });
          } catch (rollbackError) {
            log(`could not roll back from ${trial.version}: ${messageOf(rollbackError)}`);
          }
        } else if (ranMs >= healthyMs) {
          await clearTrial(paths).catch(() => undefined); // outlived its window: no rollback any more
        }
      }
      const next = afterExit(state, { startedAt, endedAt, crashed }, tuning);
      state = next.state;
      // After a rollback the next program is the version that ran well before: no backoff. (The
      // crash still counts towards a crash loop; a rollback happens once per install.)
      const delayMs = rolledBackTo === null ? next.delayMs : 0;
      log(
        `${name} (pid ${spawned.pid ?? "none"}) ${how} after ${(ranMs / 1000).toFixed(1)} s; ` +
          `starting ${rolledBackTo === null ? "it again" : rolledBackTo} in ${(delayMs / 1000).toFixed(1)} s`,
      );
      if (stopping) process.exit(0);
      scheduleStart(delayMs);
    };
    // 'error' without a pid: the process was never created, and 'exit' may never come.
    spawned.once("error", (spawnError) => {
      if (spawned.pid === undefined) void onEnd(null, null, spawnError);
      else log(`${name} (pid ${spawned.pid}): ${spawnError.message}`);
    });
    spawned.once("exit", (code, signal) => void onEnd(code, signal));
    if (spawned.pid !== undefined)
      log(`started ${name} (pid ${spawned.pid})${trial ? `, on trial for ${(healthyMs / 1000).toFixed(1)} s` : ""}`);
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

  await start();
}

async function enrolledOrPending(paths: HomePaths, env: NodeJS.ProcessEnv): Promise<void> {
  try {
    await loadEnrollment(paths);
    await deletePendingEnrollment(paths).catch(() => undefined); // a second setup's leftover
    return;
  } catch (error) {
    if (!(error instanceof NotEnrolledError)) throw error;
    const pending = await readPendingEnrollment(paths);
    if (pending === null) throw error;
    const { enrollWhenOnline } = await import("./enroll-when-online.ts");
    await enrollWhenOnline({ paths, pending, version: agentVersion(env), timing: enrollRetryTiming(env), log });
  }
}

function appendExitRecord(crashLog: string, record: string): void {
  try {
    mkdirSync(path.dirname(crashLog), { recursive: true, mode: 0o700 });
    appendFileSync(crashLog, record, { mode: 0o600 });
  } catch (error) {
    log(`could not write ${crashLog}: ${messageOf(error)}`);
  }
  process.stderr.write(record);
}
