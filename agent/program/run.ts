/**
 * The node program (`buhdi-node node`, started and restarted by the supervisor that
 * `buhdi-node run` is), in the order that makes crash reporting work:
 *   (a) crash capture first, so even a failure while starting is recorded;
 *   (b) report earlier crashes before the program starts, as the crash-loop plan allows
 *       (crash/loop.ts): if the program dies again at once, the report has already gone out;
 *   (c) connect the live link to the cloud (live-link.ts) and carry out the commands its
 *       welcome announces, THEN start the local endpoint (127.0.0.1) and the wake detector.
 *       Rescue before risk: a program that dies while starting (EADDRINUSE) still
 *       connects first, so the SOFTWARE_UPDATE that fixes it is installed before it dies again.
 *       The wait is bounded (FIRST_CONTACT_*): with no cloud, the endpoint starts regardless;
 *   (d) keep flushing the spool on a timer until SIGTERM/SIGINT, or until the supervisor is
 *       gone, which say going_away to the cloud and exit 0;
 *   (e) SOFTWARE_UPDATE commands go to the updater (updater.ts); once one is installed and
 *       acked, the program stops the same way but exits RESTART_INTO_CURRENT_EXIT_CODE, and the
 *       supervisor starts the new version. A program on trial after an update reports itself
 *       healthy when it has lived through the rollback window (update/trial.ts).
 * Everything here is wiring; each rule lives in the module named next to it.
 */
import { SUPERVISED_ENV } from "../supervisor/supervised.ts";
import type { Server } from "node:http";
import { NODE_KEY_HEADER } from "../../protocol/index.ts";
import { commandHandler } from "../commands/handler.ts";
import { openCommandStore } from "../commands/store.ts";
import { loadEnrollment } from "../core/config.ts";
import { writeEndpoint } from "./endpoint-record.ts";
import { installCrashCapture } from "../crash/capture.ts";
import { crashReportPlan, parseCrashLoop } from "../crash/loop.ts";
import { buildDegradedReport } from "../link/degraded-report.ts";
import { buildHeartbeat, newStats } from "../link/heartbeat.ts";
import { heartbeatPoster } from "../link/heartbeat-client.ts";
import { LiveLink } from "../link/live-link.ts";
import { log, realCrashReporter, realScrubber } from "./node-context.ts";
import { parsePort, startNodeProgram } from "./node-program.ts";
import { createOutbox } from "../outbox/outbox.ts";
import { homePaths, nodeHome } from "../core/paths.ts";
import { RESTART_INTO_CURRENT_EXIT_CODE } from "../supervisor/program-choice.ts";
import { loadKeyring } from "../update/trusted-keys.ts";
import {
  commandDeadlinesMs,
  downloadIdleTimeoutMs,
  downloadRetryDelaysMs,
  linkTiming,
  retryTickMs,
  updateHealthyMs,
  wakeDetectorTiming,
} from "./tuning.ts";
import { watchUpdateTrial } from "../update/trial.ts";
import { createUpdater } from "../update/updater.ts";
import { agentVersion } from "../core/version.ts";
import { startWakeDetector } from "./wake-detector.ts";
import type { WakeDetector } from "./wake-detector.ts";
import { connectWebSocket } from "../link/ws-client.ts";

/** How long the start waits for the cloud's welcome, then for the commands it announced (a download). */
const FIRST_CONTACT_CONNECT_MS = 5_000;
const FIRST_CONTACT_COMMANDS_MS = 120_000;
/** A stop that hangs (a cloud that never answers the close) must still end the process. */
const STOP_TIMEOUT_MS = 3_000;

export async function runNode(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const startedAt = Date.now();
  const paths = homePaths(nodeHome(env));
  installCrashCapture(paths.crashLog, { supervised: env[SUPERVISED_ENV] === "1" });

  let server: Server | null = null;
  let link: LiveLink | null = null;
  let wake: WakeDetector | null = null;
  let timer: NodeJS.Timeout | null = null;
  let endTrialWatch: (() => void) | null = null;
  let stopping = false;
  // Installed before the first upload so a stop during a slow startup report is clean too.
  // Spool and crash.log writes are atomic, so leaving mid-upload loses nothing.
  const stop = (why: string, exitCode = 0): void => {
    if (stopping) return;
    stopping = true;
    log(`${why}, stopping`);
    if (timer) clearInterval(timer);
    wake?.stop();
    endTrialWatch?.();
    const exit = (): never => process.exit(exitCode);
    setTimeout(exit, STOP_TIMEOUT_MS).unref();
    void (async () => {
      await link?.stop().catch(() => undefined);
      if (!server) return exit();
      server.close(exit);
      server.closeAllConnections();
    })();
  };
  // `on`, not `once`: Ctrl-C reaches the supervisor and us, and the supervisor forwards it
  // again; a second signal must not fall through to Node's default and kill us mid-goodbye.
  process.on("SIGTERM", () => stop("SIGTERM received"));
  process.on("SIGINT", () => stop("SIGINT received"));
  // Started by the supervisor with an IPC channel: when the supervisor dies, so do we. A node
  // program outliving it would hold the port, and every restart would then die of EADDRINUSE.
  if (process.channel) {
    process.once("disconnect", () => stop("the supervisor is gone"));
    process.channel.unref();
  }

  const enrollment = await loadEnrollment(paths);
  const version = agentVersion(env);
  const port = parsePort(env.BUHDI_NODE_PORT);
  const stats = newStats(startedAt);
  const countError = (): void => {
    stats.errorCount += 1;
  };
  const reporter = realCrashReporter(paths, enrollment, version, countError);
  const crashLoop = parseCrashLoop(env);
  if (crashLoop)
    log(
      `crash loop: ${crashLoop.crash_count} crashes since ${crashLoop.first_crash_at} (${crashLoop.mode === "report" ? "reporting it now" : "holding the report"})`,
    );
  const outbox = createOutbox({
    reporter,
    spool: { dir: paths.spool, rejectedDir: paths.rejected, log },
    plan: () => crashReportPlan(crashLoop, Date.now() - startedAt),
    now: Date.now,
    log,
  });

  await outbox.pass();
  if (stopping) return;

  const updater = createUpdater({
    paths,
    version,
    server: enrollment.server,
    nodeKey: enrollment.key,
    keys: loadKeyring(env, log),
    platform: process.platform,
    arch: process.arch,
    now: Date.now,
    log,
    report: (event) => outbox.enqueue(event),
    retryDelaysMs: downloadRetryDelaysMs(env),
    idleTimeoutMs: downloadIdleTimeoutMs(env),
  });
  let restarting = false;
  const restartInto = (next: string): void => {
    if (stopping) return;
    restarting = true;
    void (async () => {
      // "installed" is already on disk; one bounded pass lets the cloud hear it from this version.
      await Promise.race([outbox.pass({ ignoreBackoff: true }), new Promise((resolve) => setTimeout(resolve, 2_000))]);
      stop(`${next} is installed; restarting into it`, RESTART_INTO_CURRENT_EXIT_CODE);
    })();
  };
  const commands = commandHandler({
    store: await openCommandStore(paths.handledCommands, log),
    overridesFile: paths.configOverrides,
    now: Date.now,
    log,
    countError,
    update: updater,
    restartInto,
    scrub: realScrubber(),
    deadlinesMs: commandDeadlinesMs(env),
  });
  const liveLink = new LiveLink({
    connect: () =>
      connectWebSocket(`${enrollment.server}/api/node/connect`, {
        headers: { [NODE_KEY_HEADER]: enrollment.key },
        timeoutMs: 15_000,
      }),
    postHeartbeat: heartbeatPoster({ server: enrollment.server, key: enrollment.key }),
    heartbeat: (state, wsFailureCount) =>
      buildHeartbeat({
        nodeId: enrollment.node_id,
        version,
        stats,
        now: Date.now(),
        state,
        wsFailureCount,
        rssBytes: process.memoryUsage.rss(),
      }),
    onCommand: commands,
    onDegraded: (details) => {
      const event = buildDegradedReport(details, { version, platform: process.platform, arch: process.arch, now: new Date() });
      void outbox.add(event);
    },
    onConnected: () => void outbox.pass({ ignoreBackoff: true }),
    countError,
    log,
    random: Math.random,
    timing: linkTiming(env),
  });
  link = liveLink;
  liveLink.start();
  const contact = await liveLink.firstContact({ connectMs: FIRST_CONTACT_CONNECT_MS, commandsMs: FIRST_CONTACT_COMMANDS_MS });
  if (contact === "timeout") log("the cloud is slow to answer; starting without waiting for it");
  // An installed update calls restartInto on a 0 ms timer after its ack (commands/handler.ts); timers
  // fire in order, so after this one the flag below is set if an update is waiting.
  await new Promise((resolve) => setTimeout(resolve, 0));
  // An update installed on first contact restarts us into it before anything risky runs.
  if (stopping || restarting) return;

  server = startNodeProgram({
    port,
    nodeId: enrollment.node_id,
    version,
    startedAt,
    endpointFile: paths.endpoint,
    log,
    onListening: (url) => {
      process.stdout.write(`buhdi-node ${version} (node ${enrollment.node_id}) listening on ${url}\n`);
      const port = Number(new URL(url).port);
      const record = { pid: process.pid, port, url, version, started_at: new Date(startedAt).toISOString() };
      writeEndpoint(paths.endpoint, record).catch((error: unknown) => log(`could not write ${paths.endpoint}: ${String(error)}`));
    },
    connection: () => {
      const status = liveLink.status;
      return { state: status.state, connected: status.connected, ws_failure_count: status.ws_failure_count };
    },
    onSleep: () => liveLink.sleep(),
  });
  const wakeTiming = wakeDetectorTiming(env);
  wake = startWakeDetector(
    (sleptMs) => {
      log(`this computer was asleep for about ${Math.round(sleptMs / 1000)} s; reconnecting`);
      // Counted from the last check that ran: the sleep began after it, never before. The cloud
      // matches this against the outage it saw (an overestimate by one period at most).
      liveLink.wake(sleptMs + wakeTiming.periodMs);
    },
    wakeTiming.periodMs,
    wakeTiming.latenessMs,
  );

  endTrialWatch = await watchUpdateTrial({
    paths,
    version,
    healthyMs: updateHealthyMs(env),
    platform: process.platform,
    arch: process.arch,
    now: Date.now,
    report: (event) => outbox.add(event),
    log,
  });

  timer = setInterval(() => void outbox.pass(), retryTickMs(env));
  // The server keeps the process alive; the timer alone must not.
  timer.unref();
}
