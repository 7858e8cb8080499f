/**
 * The launcher: the main script of the single executables (Linux `buhdi-node`, Windows
 * `Buhdi.exe`, Node's SEA) and of the macOS install (run by the official node binary). Built
 * as CommonJS (a Node 22 SEA's main must be), it carries the release bundle and runs it:
 *
 *   <exe> <file.mjs> [args…]   run that bundle, as `node <file.mjs>` would. The supervisor starts
 *                              node programs this way (process.execPath is the executable).
 *   <exe> run|setup|uninstall|enroll|report|node|--version …
 *                              the bundle this executable carries, extracted once to
 *                              <install dir>/agent/<version>/buhdi-node.mjs.
 *
 * It also sets the node's home to <install dir>/home unless BUHDI_NODE_HOME says otherwise, on
 * Windows sends stdout and stderr to <install dir>/logs/buhdi.log (a GUI-subsystem program has
 * nowhere else to write), and makes a second `run` step aside while a supervisor of this install
 * is alive (the logon task and the Run value may both start one).
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Writable } from "node:stream";
import { pathToFileURL } from "node:url";
import { installDir, logDirIn, nodeHomeIn, supervisorPidFile } from "./install-dir.ts";

/** Replaced by esbuild's define with the carried bundle's version. */
declare const __BUHDI_LAUNCHER_BUNDLE_VERSION__: string;
export const BUNDLE_ASSET = "buhdi-node.mjs";

function isSea(): boolean {
  return (require("node:sea") as typeof import("node:sea")).isSea();
}

function carriedBundle(): Buffer {
  const sea = require("node:sea") as typeof import("node:sea");
  if (sea.isSea()) return Buffer.from(sea.getAsset(BUNDLE_ASSET));
  // Not a single executable (macOS: node launcher.cjs): the bundle lies next to the launcher.
  return readFileSync(path.join(__dirname, BUNDLE_ASSET));
}

function extractedBundle(dir: string): string {
  const file = path.join(dir, "agent", __BUHDI_LAUNCHER_BUNDLE_VERSION__, BUNDLE_ASSET);
  if (existsSync(file)) return file;
  mkdirSync(path.dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, carriedBundle());
  renameSync(temp, file);
  return file;
}

function logToFile(dir: string): void {
  const logs = logDirIn(dir);
  mkdirSync(logs, { recursive: true });
  const file = path.join(logs, "buhdi.log");
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      try {
        appendFileSync(file, chunk);
      } catch {
        // Nowhere left to say it: a full disk must not crash the node.
      }
      callback();
    },
  });
  // Replaced before anything reads process.stdout: creating the real stream on the handles a GUI
  // program (or a custom action) inherits can itself throw (EBADF).
  for (const name of ["stdout", "stderr"] as const) {
    Object.defineProperty(process, name, { configurable: true, enumerable: true, get: () => stream });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** True if this `run` may go on: no other live supervisor holds the install. */
function claimSupervisor(dir: string): boolean {
  const file = supervisorPidFile(dir);
  mkdirSync(path.dirname(file), { recursive: true });
  try {
    const pid = Number(readFileSync(file, "utf8").trim());
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) return false;
  } catch {
    // No pid file yet.
  }
  writeFileSync(file, String(process.pid));
  process.once("exit", () => {
    try {
      if (readFileSync(file, "utf8").trim() === String(process.pid)) unlinkSync(file);
    } catch {
      // Already gone.
    }
  });
  return true;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const dir = installDir();
  process.env.BUHDI_INSTALL_DIR ??= dir;
  process.env.BUHDI_NODE_HOME ??= nodeHomeIn(dir);
  // Not a single executable (macOS): where the launcher, node binary and bundle came from, for setup to copy.
  if (!isSea()) process.env.BUHDI_LAUNCHER_DIR ??= __dirname;
  if (process.platform === "win32" && !process.env.BUHDI_LOG_TO_CONSOLE) logToFile(dir);

  const first = args[0];
  if (first?.endsWith(".mjs") && existsSync(first)) {
    const file = path.resolve(first);
    process.argv = [process.execPath, file, ...args.slice(1)];
    await import(pathToFileURL(file).href);
    return;
  }
  if (first === "run" && !claimSupervisor(dir)) {
    process.stderr.write(`buhdi-node: a supervisor is already running for ${dir}; this one steps aside\n`);
    return;
  }
  const bundle = extractedBundle(dir);
  process.argv = [process.execPath, bundle, ...args];
  await import(pathToFileURL(bundle).href);
}

main().catch((error: unknown) => {
  process.stderr.write(`buhdi-node launcher: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
