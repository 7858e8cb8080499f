/**
 * Runs the real edge locally: `wrangler dev` (workerd) with a migrated local D1,
 * the Queue and the rate limiter, on a port of its own. Used by `npm start`,
 * the Node-side tests and the benchmark, so all of them meet the same runtime.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { emailLogReader, type LocalEmail } from "./local-email.ts";

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
// Wrangler needs Node 22: run its script on the node_modules Node, whatever Node runs this file.
const NODE22 = path.join(REPO_ROOT, "node_modules", ".bin", "node");
const WRANGLER = [path.join(REPO_ROOT, "node_modules", "wrangler", "bin", "wrangler.js")];

export type LocalEdge = {
  url: string;
  adminToken: string;
  persistDir: string;
  stop(): Promise<void>;
  /** SIGKILL of wrangler and workerd at once, as a crash of the host would do; state on disk stays. */
  kill(): Promise<void>;
};

export type LocalEdgeOptions = {
  /** Default: a free port. */
  port?: number;
  /** Where D1 and the queue keep their state; default: a fresh temp dir. */
  persistDir?: string;
  /** Default: random. */
  adminToken?: string;
  /** Another wrangler config (e.g. the benchmark's hello-world Worker). */
  config?: string;
  /** Forward wrangler's own output (npm start); tests keep it quiet. */
  inheritOutput?: boolean;
  /** Extra `--var NAME:value` pairs. PUBLIC_URL defaults to this edge's own URL. */
  vars?: Record<string, string>;
  /** Each email the edge sends, as read from the local send_email binding's log (local-email.ts). */
  onEmail?: (email: LocalEmail) => void;
  /** Where to keep each email's HTML part (wrangler removes its own copy when it stops). */
  keepEmailHtmlIn?: string;
  /** Serve /__scheduled?cron=…, which runs that cron trigger now (local crons never fire by themselves). */
  testScheduled?: boolean;
  /** How long the start may take before it fails; default 90 s. */
  serveWithinMs?: number;
};

/** Every wrangler dev this process started and has not seen exit, for stopLocalEdges(). */
const running = new Set<ChildProcess>();
let refusing = false;

/**
 * Stops every edge this process started, also one still starting, and kills any that finishes
 * starting afterwards (until allowLocalEdges()). For test files: a set-up hook that times out
 * leaves its edge starting with nothing to stop it, and a test worker ended by a signal never
 * runs its exit handlers.
 */
export async function stopLocalEdges(): Promise<void> {
  refusing = true;
  await Promise.all([...running].map(stopProcessGroup));
}

export function allowLocalEdges(): void {
  refusing = false;
}

export async function startLocalEdge(options: LocalEdgeOptions = {}): Promise<LocalEdge> {
  const persistDir = options.persistDir ?? (await mkdtemp(path.join(tmpdir(), "buhdi-edge-")));
  const adminToken = options.adminToken ?? randomBytes(24).toString("base64url");
  const config = options.config ?? path.join(REPO_ROOT, "wrangler.toml");
  const port = options.port ?? (await freePort());

  if (!options.config) await migrateLocalD1(persistDir, options.inheritOutput ?? false);

  const url = `http://127.0.0.1:${port}`;
  const vars = { ADMIN_TOKEN: adminToken, PUBLIC_URL: url, ...options.vars };
  // The local send_email binding logs each email at info level; that log is how emails are seen here.
  const emails = options.onEmail ? emailLogReader(options.onEmail, { keepHtmlIn: options.keepEmailHtmlIn }) : null;
  const child = spawn(
    NODE22,
    [
      ...WRANGLER,
      "dev",
      "--config",
      config,
      "--ip",
      "127.0.0.1",
      "--port",
      String(port),
      "--inspector-port",
      String(await freePort()),
      "--persist-to",
      persistDir,
      "--show-interactive-dev-session=false",
      "--log-level",
      options.inheritOutput || emails ? "info" : "warn",
      ...(options.testScheduled ? ["--test-scheduled"] : []),
      ...Object.entries(vars).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
    ],
    {
      cwd: REPO_ROOT,
      // Own process group: stop() takes workerd down with wrangler.
      detached: true,
      stdio: options.inheritOutput && !emails ? "inherit" : ["ignore", "pipe", "pipe"],
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: process.env.CI ?? "true" },
    },
  );
  // If this process goes away without calling stop(), don't leave workerd behind.
  const killOnExit = () => killGroup(child, "SIGKILL");
  process.once("exit", killOnExit);
  running.add(child);
  child.once("exit", () => running.delete(child));
  if (refusing) killGroup(child, "SIGKILL");
  const output: string[] = [];
  for (const [stream, forwardTo] of [
    [child.stdout, process.stdout],
    [child.stderr, process.stderr],
  ] as const) {
    stream?.on("data", (d: Buffer) => {
      const text = d.toString();
      // Forwarded when the output is the person's (npm start); otherwise the tail is kept to explain a failed start.
      if (options.inheritOutput) forwardTo.write(text);
      else if (output.push(text) > 400) output.splice(0, 200);
      emails?.push(text);
    });
  }

  try {
    await waitUntilServing(url, child, options.serveWithinMs);
  } catch (error) {
    await stopProcessGroup(child);
    throw new Error(`${(error as Error).message}\n--- wrangler output ---\n${output.join("").slice(-4000)}`);
  }
  return {
    url,
    adminToken,
    persistDir,
    stop: async () => {
      process.off("exit", killOnExit);
      await stopProcessGroup(child);
    },
    kill: async () => {
      process.off("exit", killOnExit);
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      if (killGroup(child, "SIGKILL")) await exited;
    },
  };
}

/** Applies migrations/ to the local D1 in persistDir (the same command `npm start` documents). */
export async function migrateLocalD1(persistDir: string, inheritOutput: boolean): Promise<void> {
  await run(NODE22, [...WRANGLER, "d1", "migrations", "apply", "DB", "--local", "--persist-to", persistDir], inheritOutput);
}

function run(command: string, args: string[], inheritOutput: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: REPO_ROOT,
      stdio: inheritOutput ? "inherit" : ["ignore", "pipe", "pipe"],
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true" },
    });
    let output = "";
    child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
    child.on("error", reject);
    child.on("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`wrangler ${args.slice(1).join(" ")} exited ${code}\n${output}`)),
    );
  });
}

async function waitUntilServing(url: string, child: ChildProcess, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  child.once("exit", () => (exited = true));
  while (Date.now() < deadline) {
    if (exited) throw new Error("wrangler dev exited before serving");
    try {
      // Each probe has its own timeout: a workerd that accepts but never answers (out of file
      // descriptors) must not hold this loop past its deadline.
      const res = await fetch(`${url}/api/health`, { signal: AbortSignal.timeout(5_000) });
      // Any HTTP answer means workerd is up (the hello-world bench Worker has no /api/health).
      if (res.status < 500) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`wrangler dev did not serve ${url} within ${timeoutMs / 1000} s`);
}

async function stopProcessGroup(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  if (!killGroup(child, "SIGTERM")) return;
  const timer = setTimeout(() => killGroup(child, "SIGKILL"), 5000);
  await exited;
  clearTimeout(timer);
}

/** Signals wrangler's whole process group (wrangler and its workerd); false if it is gone. */
function killGroup(child: ChildProcess, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-child.pid!, signal);
    return true;
  } catch {
    return false;
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
