/**
 * Runs the real edge locally: `wrangler dev` (workerd) with a migrated local D1,
 * the Queue and the rate limiter, on a port of its own. Used by `npm start`,
 * the Node-side tests and the benchmark, so all of them meet the same runtime; with `direct`,
 * the same Worker and bindings on Miniflare without wrangler dev's proxy (edge-server.ts).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { ServerOptions } from "./edge-server.ts";
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
  /** How long the start may take before it fails; default 90 s. */
  serveWithinMs?: number;
  /**
   * Serve from Miniflare directly (edge-server.ts), without wrangler dev's proxy in front: a
   * fleet reconnecting through a restart is refused until the edge serves, as in production,
   * instead of queueing in that proxy.
   */
  direct?: boolean;
  /** With `direct`: another entry module than the config's `main` (the benchmark's counting wrapper). */
  entry?: string;
  /** With `direct`: every invocation of the Worker is POSTed here as a line (edge-server.ts). */
  invocationSink?: string;
};

/** Every edge process this process started and has not seen exit, for stopLocalEdges(). */
const running = new Set<ChildProcess>();
/** State dirs startLocalEdge made itself (no persistDir given): stopLocalEdges() removes them. */
const madeStateDirs = new Set<string>();
let refusing = false;

/**
 * Stops every edge this process started, also one still starting, and kills any that finishes
 * starting afterwards (until allowLocalEdges()), then removes the state dirs it made for them.
 * For test files: a set-up hook that times out leaves its edge starting with nothing to stop it,
 * a test worker ended by a signal never runs its exit handlers, and every run would otherwise
 * leave its edges' D1 and R2 state in the temp dir.
 */
export async function stopLocalEdges(): Promise<void> {
  refusing = true;
  await Promise.all([...running].map(stopProcessGroup));
  await Promise.all([...madeStateDirs].map((dir) => rm(dir, { recursive: true, force: true })));
  madeStateDirs.clear();
}

export function allowLocalEdges(): void {
  refusing = false;
}

async function madeStateDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "buhdi-edge-"));
  madeStateDirs.add(dir);
  return dir;
}

export async function startLocalEdge(options: LocalEdgeOptions = {}): Promise<LocalEdge> {
  const persistDir = options.persistDir ?? (await madeStateDir());
  const adminToken = options.adminToken ?? randomBytes(24).toString("base64url");
  const config = options.config ?? path.join(REPO_ROOT, "wrangler.toml");
  const port = options.port ?? (await freePort());

  if (!options.config) await migrateLocalD1(persistDir, options.inheritOutput ?? false);

  const url = `http://127.0.0.1:${port}`;
  const vars = { ADMIN_TOKEN: adminToken, PUBLIC_URL: url, ...options.vars };
  // The local send_email binding logs each email at info level; that log is how emails are seen here.
  const emails = options.onEmail ? emailLogReader(options.onEmail, { keepHtmlIn: options.keepEmailHtmlIn }) : null;
  const logLevel: ServerOptions["logLevel"] = options.inheritOutput || emails ? "info" : "warn";
  const served = { config, port, persistDir, vars, logLevel, invocationSink: options.invocationSink };
  const args = await edgeCommand(options.direct ?? false, served, options.entry);
  const child = spawn(NODE22, args, {
    cwd: REPO_ROOT,
    // Own process group: stop() takes workerd down with wrangler.
    detached: true,
    stdio: options.inheritOutput && !emails ? "inherit" : ["ignore", "pipe", "pipe"],
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: process.env.CI ?? "true" },
  });
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

/** GET it to run a cron trigger now (local crons never fire by themselves); both kinds of edge serve it. */
export function scheduledUrl(edgeUrl: string, cron: string): string {
  return `${edgeUrl}/cdn-cgi/local/scheduled?cron=${encodeURIComponent(cron)}`;
}

/** The process that serves the edge: wrangler dev, or edge-server.ts on the built Worker. */
async function edgeCommand(direct: boolean, served: Omit<ServerOptions, "script">, entry?: string): Promise<string[]> {
  if (direct) {
    const options: ServerOptions = { ...served, script: await workerBundle(served.config, entry) };
    return [path.join(REPO_ROOT, "scripts", "edge-server.ts"), JSON.stringify(options)];
  }
  return [
    ...WRANGLER,
    "dev",
    "--config",
    served.config,
    "--ip",
    "127.0.0.1",
    "--port",
    String(served.port),
    "--inspector-port",
    String(await freePort()),
    "--persist-to",
    served.persistDir,
    "--show-interactive-dev-session=false",
    "--log-level",
    served.logLevel,
    ...Object.entries(served.vars).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
  ];
}

const bundles = new Map<string, Promise<string>>();

/** The Worker as `wrangler deploy` would upload it (of `entry` instead of `main` if given), built once per process. */
function workerBundle(config: string, entry?: string): Promise<string> {
  const key = `${config}\0${entry ?? ""}`;
  let bundle = bundles.get(key);
  if (!bundle) {
    bundle = (async () => {
      const outdir = await mkdtemp(path.join(tmpdir(), "buhdi-bundle-"));
      process.once("exit", () => rmSync(outdir, { recursive: true, force: true }));
      await run(NODE22, [...WRANGLER, "deploy", ...(entry ? [entry] : []), "--dry-run", "--config", config, "--outdir", outdir], false);
      // One module named after the config's `main` (worker/index.ts → index.js; the bench's Workers alike).
      const [script] = (await readdir(outdir)).filter((name) => name.endsWith(".js"));
      if (!script) throw new Error(`wrangler deploy --dry-run wrote no .js to ${outdir}`);
      return path.join(outdir, script);
    })();
    bundles.set(key, bundle);
  }
  return bundle;
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
    if (exited) throw new Error("the local edge exited before serving");
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
  throw new Error(`the local edge did not serve ${url} within ${timeoutMs / 1000} s`);
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
