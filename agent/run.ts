/**
 * `buhdi-node run`, in the order that makes crash reporting work:
 *   (a) crash capture first, so even a failure while starting is recorded;
 *   (b) report earlier crashes before the program starts: if the program dies again at once
 *       (a crash loop), the report from the previous crash has already gone out;
 *   (c) start the node program;
 *   (d) keep retrying the spool on a timer until SIGTERM/SIGINT, which exit 0.
 * BUHDI_NODE_PORT moves the program's port; BUHDI_NODE_RETRY_TICK_MS the timer (tests).
 */
import type { Server } from "node:http";
import { loadEnrollment } from "./config.ts";
import { installCrashCapture } from "./crash-capture.ts";
import type { CrashReporter } from "./crash-reporter.ts";
import { log, realCrashReporter } from "./node-context.ts";
import { parsePort, startNodeProgram } from "./node-program.ts";
import { homePaths, nodeHome } from "./paths.ts";
import { agentVersion } from "./version.ts";

/** Matches the backoff base: an entry never waits much longer than its schedule says. */
const DEFAULT_RETRY_TICK_MS = 5_000;

export async function runNode(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const startedAt = Date.now();
  const paths = homePaths(nodeHome(env));
  installCrashCapture(paths.crashLog);

  let server: Server | null = null;
  let timer: NodeJS.Timeout | null = null;
  // Installed before the first upload so a stop during a slow startup report is clean too.
  // Spool and crash.log writes are atomic, so leaving mid-upload loses nothing.
  const stop = (signal: NodeJS.Signals): void => {
    log(`${signal} received, stopping`);
    if (timer) clearInterval(timer);
    if (!server) process.exit(0);
    server.close(() => process.exit(0));
    server.closeAllConnections();
    setTimeout(() => process.exit(0), 2_000).unref();
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);

  const enrollment = await loadEnrollment(paths);
  const version = agentVersion(env);
  const port = parsePort(env.BUHDI_NODE_PORT);
  const tickMs = parseTick(env.BUHDI_NODE_RETRY_TICK_MS);
  const reporter = realCrashReporter(paths, enrollment, version);

  await reportQuietly(reporter);

  server = startNodeProgram({
    port,
    nodeId: enrollment.node_id,
    version,
    startedAt,
    onListening: (url) => process.stdout.write(`buhdi-node ${version} (node ${enrollment.node_id}) listening on ${url}\n`),
  });

  let reporting = false;
  timer = setInterval(() => {
    if (reporting) return; // a slow upload must not overlap the next tick and send twice
    reporting = true;
    void reportQuietly(reporter).finally(() => {
      reporting = false;
    });
  }, tickMs);
  // The server keeps the process alive; the timer alone must not.
  timer.unref();
}

/** Reporting trouble (the cloud is down, a disk hiccup) must never stop the node from running. */
async function reportQuietly(reporter: CrashReporter): Promise<void> {
  try {
    await reporter.report();
  } catch (error) {
    log(`crash reporting failed, will try again: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function parseTick(value: string | undefined): number {
  const tick = Number(value);
  return value !== undefined && Number.isInteger(tick) && tick >= 100 ? tick : DEFAULT_RETRY_TICK_MS;
}
