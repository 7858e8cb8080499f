/**
 * The installers: how big each is (installer_bytes per platform), and what the Linux single
 * executable costs at start: sea_start_ratio = median time from `buhdi-node run` to the node
 * program connected to the cloud, SEA (`<install>/buhdi-node run`) over the plain bundle
 * (`node buhdi-node.mjs run`), both the same release, same Node version, same local edge, runs
 * alternated (BENCH_SEA_RUNS each, default 5). Target ≤ 1.2.
 *
 * "Connected" is the node program's own line ("connected to the cloud"): the moment the edge
 * has its socket, without the polling delay of reading the edge's status.
 * Run alone: `node bench/installers.ts`; in `npm run bench` as the part "installers".
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { buildAgent } from "../scripts/build-agent.ts";
import { buildInstallers } from "../scripts/build-installers.ts";
import { REPO_ROOT, type LocalEdge } from "../scripts/local-edge.ts";
import { startEdge, stopEdge } from "./edges.ts";
import { createCode, createOwner } from "./fleet.ts";
import { log, positiveInt } from "./settings.ts";

export const SEA_START_TARGET = 1.2;
const NODE22 = path.join(REPO_ROOT, "node_modules", ".bin", "node");
const VERSION = "0.3.0";

export type InstallersSection = {
  installer_bytes: Record<string, number>;
  sea_start_ms: number[];
  bundle_start_ms: number[];
  sea_start_ratio: number;
  sea_start_target_ratio: number;
  sea_start_target_met: boolean;
};

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Milliseconds from spawning `run` to the node program's "connected to the cloud"; then stopped. */
async function timeToConnected(command: string, args: string[], env: Record<string, string>): Promise<number> {
  const started = performance.now();
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  try {
    return await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not connected within 60 s: ${output}`)), 60_000);
      const onData = (d: Buffer) => {
        output += d.toString();
        if (output.includes("connected to the cloud")) {
          clearTimeout(timer);
          resolve(performance.now() - started);
        }
      };
      child.stdout.on("data", onData);
      child.stderr.on("data", onData);
      child.once("error", reject);
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`exited (${code}) before connecting: ${output}`));
      });
    });
  } finally {
    const exited = new Promise((resolve) => child.once("exit", resolve));
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited;
  }
}

async function enrollWith(command: string, args: string[], env: Record<string, string>): Promise<void> {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr.on("data", (d: Buffer) => (output += d.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", resolve);
  });
  if (code !== 0) throw new Error(`${path.basename(command)} ${args[0]} failed: ${output}`);
}

export async function benchInstallers(): Promise<InstallersSection> {
  const runs = positiveInt("BENCH_SEA_RUNS", 5);
  const dir = await mkdtemp(path.join(tmpdir(), "buhdi-bench-installers-"));
  let edge: LocalEdge | null = null;
  try {
    const agent = await buildAgent({ version: VERSION, outDir: path.join(dir, "agent") });
    log("installers: building every platform's installer (cached by inputs under .tmp/bench-installers)");
    const built = await buildInstallers({
      version: VERSION,
      agent,
      outDir: path.join(REPO_ROOT, ".tmp", "bench-installers"),
      log: () => {},
    });
    const installer_bytes = Object.fromEntries(built.map((b) => [b.platform, b.size]));
    const sea = built.find((b) => b.platform === "linux-x64")?.executable;
    if (!sea) throw new Error("the Linux installer build returned no executable");

    edge = await startEdge({ direct: true });
    const ownerId = await createOwner(edge);
    const seaEnv = { BUHDI_INSTALL_DIR: path.join(dir, "install"), BUHDI_NODE_HOME: path.join(dir, "sea-home"), BUHDI_NODE_PORT: "0" };
    const bundleEnv = { BUHDI_NODE_HOME: path.join(dir, "bundle-home"), BUHDI_NODE_PORT: "0" };
    await enrollWith(sea, ["setup", "--code", await createCode(edge, ownerId, "sea"), "--server", edge.url, "--no-start"], seaEnv);
    await enrollWith(NODE22, [agent.file, "enroll", await createCode(edge, ownerId, "bundle"), "--server", edge.url], bundleEnv);
    const installed = path.join(seaEnv.BUHDI_INSTALL_DIR, "buhdi-node");

    const sea_start_ms: number[] = [];
    const bundle_start_ms: number[] = [];
    for (let i = 0; i < runs; i++) {
      sea_start_ms.push(await timeToConnected(installed, ["run"], seaEnv));
      bundle_start_ms.push(await timeToConnected(NODE22, [agent.file, "run"], bundleEnv));
    }
    const ratio = median(sea_start_ms) / median(bundle_start_ms);
    return {
      installer_bytes,
      sea_start_ms,
      bundle_start_ms,
      sea_start_ratio: ratio,
      sea_start_target_ratio: SEA_START_TARGET,
      sea_start_target_met: ratio <= SEA_START_TARGET,
    };
  } finally {
    if (edge) await stopEdge(edge);
    await rm(dir, { recursive: true, force: true });
  }
}

export function printInstallers(r: InstallersSection): void {
  console.log("\nInstallers: size per platform, and the Linux single executable's start vs node <bundle>");
  for (const [platform, bytes] of Object.entries(r.installer_bytes))
    console.log(`  ${platform.padEnd(12)} ${(bytes / 2 ** 20).toFixed(1)} MiB (${bytes} bytes)`);
  console.log(
    `  run → connected, median of ${r.sea_start_ms.length}: SEA ${median(r.sea_start_ms).toFixed(0)} ms, bundle ${median(r.bundle_start_ms).toFixed(0)} ms`,
  );
  console.log(
    `  sea_start_ratio = ${r.sea_start_ratio.toFixed(3)}  (target <= ${r.sea_start_target_ratio}: ${r.sea_start_target_met ? "met" : "NOT met"})`,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const section = await benchInstallers();
  printInstallers(section);
  console.log(JSON.stringify(section, (_k, v: unknown) => (typeof v === "number" ? Math.round(v * 1000) / 1000 : v), 2));
}
