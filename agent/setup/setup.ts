/**
 * `buhdi-node setup` and `buhdi-node uninstall`: what the installers run.
 *
 * setup --code <code> --server <url> [--msi <path of the .msi>] [--no-start]
 *   1. puts this executable (and, on macOS, the node binary and bundle around the launcher) in
 *      the install folder (installDir);
 *   2. enrolls with the code, unless this install is already enrolled (an upgrade keeps it);
 *      the code comes from --code, or from the MSI's file name. If the cloud cannot be reached,
 *      the code is saved and `run` enrolls later: the install never fails for the network;
 *   3. registers what keeps the supervisor running (systemd user unit, scheduled task,
 *      LaunchAgent) and starts it, unless --no-start.
 *
 * uninstall [--keep-files]
 *   tells the cloud the node is retired (POST /api/node/retire), stops the supervisor, removes
 *   what keeps it running and the install folder (on Windows the MSI removes Buhdi.exe itself).
 */
import { execFile } from "node:child_process";
import { chmod, copyFile, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs, promisify } from "node:util";
import { NODE_KEY_HEADER } from "../../protocol/headers.ts";
import { describeNetworkError, readApiError } from "../outbox/api-error.ts";
import { loadEnrollment, normalizeServer } from "../core/config.ts";
import { deletePendingEnrollment, readPendingEnrollment, savePendingEnrollment } from "../core/pending-enrollment.ts";
import { enroll, EnrollError } from "../enroll.ts";
import { type HomePaths, homePaths } from "../core/paths.ts";
import { agentVersion } from "../core/version.ts";
import { codeFromFileName } from "./code-from-file-name.ts";
import { executableName, installDir, logDirIn, nodeHomeIn, supervisorPidFile } from "./install-dir.ts";
import { LAUNCHD_LABEL, launchdPlist } from "./launchd-plist.ts";
import { SYSTEMD_UNIT_NAME, systemdUnit } from "./systemd-unit.ts";
import { TASK_NAME, taskXml, taskXmlBytes } from "./task-xml.ts";

const run = promisify(execFile);

export class SetupError extends Error {
  override name = "SetupError";
}

type Say = (line: string) => void;

export type SetupOptions = {
  code: string | null;
  server: string;
  msi: string | null;
  start: boolean;
  env?: NodeJS.ProcessEnv;
  platform?: NodeJS.Platform;
  say?: Say;
};

export function systemdUnitFile(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(env.XDG_CONFIG_HOME?.trim() || path.join(os.homedir(), ".config"), "systemd", "user", SYSTEMD_UNIT_NAME);
}

export function launchdPlistFile(): string {
  return path.join(os.homedir(), "Library", "LaunchAgents", `${LAUNCHD_LABEL}.plist`);
}

/** The node's home: BUHDI_NODE_HOME if set (the launcher sets it to <install dir>/home), else that. */
function homeOf(env: NodeJS.ProcessEnv, dir: string): string {
  const override = env.BUHDI_NODE_HOME?.trim();
  return override ? path.resolve(override) : nodeHomeIn(dir);
}

const WINDOWS_RUN_KEY = "HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run";

/** nodeId null: not connected yet; the code is saved and `run` enrolls once the cloud answers. */
export async function setup(options: SetupOptions): Promise<{ dir: string; executable: string; nodeId: string | null; started: boolean }> {
  const env = options.env ?? process.env;
  const platform = options.platform ?? process.platform;
  const say = options.say ?? ((line: string) => process.stdout.write(`${line}\n`));
  const dir = installDir(env, platform);
  const executable = path.join(dir, executableName(platform));
  await mkdir(dir, { recursive: true });

  // 1. The executable in its place (the MSI already put Buhdi.exe there on Windows).
  if (path.resolve(process.execPath) !== path.resolve(executable) && platform !== "win32") {
    await installSelf(dir, executable, platform);
    say(`Installed Buhdi in ${dir}`);
  }

  // 2. Enrolled once: an upgrade or a second setup keeps the node it already is.
  const paths = homePaths(homeOf(env, dir));
  let nodeId: string | null;
  try {
    nodeId = (await loadEnrollment(paths)).node_id;
    await deletePendingEnrollment(paths);
    say(`Already connected as node ${nodeId}; keeping it.`);
  } catch {
    const code = options.code?.trim() || (options.msi ? codeFromFileName(options.msi) : null);
    if (code) {
      nodeId = await enrollNowOrLater(paths, code, options.server, say);
    } else if (await readPendingEnrollment(paths)) {
      // An upgrade (its MSI carries no code) before the first install could connect: keep waiting.
      nodeId = null;
      say("Not connected yet; keeping the saved setup code: Buhdi connects this computer by itself as soon as it can.");
    } else {
      throw new SetupError(
        "No setup code: the installer's file name should look like Buhdi-Setup-XXXX-XXXX-XXXX-XXXX.msi. Download it again from your setup link.",
      );
    }
  }

  // 3. Kept running by the system.
  const started = await registerService({ dir, executable, platform, env, start: options.start, say });
  return { dir, executable, nodeId, started };
}

/**
 * Enrolls now; if the cloud cannot be reached (no network, a timeout, the cloud failing), the
 * code is saved for `run` to use once it can (supervisor/enroll-when-online.ts) and the install
 * goes on: a computer set up offline connects by itself later. A code the cloud refuses (used,
 * expired, unknown) fails setup with the cloud's sentence: no later attempt could work, and the
 * owner must hear now that they need a new link, not find a silent Buhdi later.
 */
async function enrollNowOrLater(paths: HomePaths, code: string, server: string, say: Say): Promise<string | null> {
  try {
    const nodeId = (await enroll({ code, server, version: agentVersion(), paths })).node_id;
    await deletePendingEnrollment(paths);
    say(`Connected this computer to your Buhdi account (node ${nodeId}).`);
    return nodeId;
  } catch (error) {
    if (!(error instanceof EnrollError) || !error.retryable) throw error;
    await savePendingEnrollment(paths, { code: code.toUpperCase(), server: normalizeServer(server) });
    say(`${error.message} Buhdi is installed anyway and will connect this computer by itself as soon as it can.`);
    return null;
  }
}

async function installSelf(dir: string, executable: string, platform: NodeJS.Platform): Promise<void> {
  if (platform === "darwin") {
    // macOS: `buhdi-node` is a small script running the official node binary on the launcher
    // (not a SEA: an unsigned modified binary would not run there). They came in one folder.
    // The launcher says where it came from (the unpacked archive); process.argv[1] is the bundle by now.
    const source = process.env.BUHDI_LAUNCHER_DIR;
    if (!source) throw new SetupError("setup on macOS must be run through the launcher (buhdi-node from the download).");
    for (const file of ["node", "launcher.cjs", "buhdi-node.mjs"]) await copyFile(path.join(source, file), path.join(dir, file));
    await chmod(path.join(dir, "node"), 0o755);
    await writeFile(executable, `#!/bin/sh\nhere="$(cd "$(dirname "$0")" && pwd)"\nexec "$here/node" "$here/launcher.cjs" "$@"\n`, {
      mode: 0o755,
    });
    return;
  }
  const temp = `${executable}.${process.pid}.tmp`;
  await copyFile(process.execPath, temp);
  await chmod(temp, 0o755);
  const { rename } = await import("node:fs/promises");
  await rename(temp, executable);
}

async function registerService(o: {
  dir: string;
  executable: string;
  platform: NodeJS.Platform;
  env: NodeJS.ProcessEnv;
  start: boolean;
  say: Say;
}): Promise<boolean> {
  if (o.platform === "linux") {
    const unitFile = systemdUnitFile(o.env);
    await mkdir(path.dirname(unitFile), { recursive: true });
    await writeFile(unitFile, systemdUnit(o.executable));
    o.say(`Wrote ${unitFile}`);
    if (!o.start) return false;
    return tryCommands(
      o.say,
      "start it with systemd",
      [
        ["systemctl", ["--user", "daemon-reload"]],
        ["systemctl", ["--user", "enable", "--now", SYSTEMD_UNIT_NAME]],
      ],
      `${o.executable} run`,
    );
  }
  if (o.platform === "win32") {
    const xmlFile = path.join(o.dir, "buhdi-task.xml");
    await writeFile(xmlFile, taskXmlBytes(taskXml({ userId: windowsUser(o.env), executable: o.executable, workingDirectory: o.dir })));
    const registered = await tryCommands(
      o.say,
      "register the logon task",
      [["schtasks", ["/Create", "/TN", TASK_NAME, "/XML", xmlFile, "/F"]]],
      null,
    );
    if (!o.start) return false;
    // Started now, not at the next logon; a second start later steps aside (launcher).
    const { spawn } = await import("node:child_process");
    const child = spawn(o.executable, ["run"], { detached: true, stdio: "ignore", cwd: o.dir });
    child.unref();
    o.say(
      `Started Buhdi (pid ${child.pid ?? "unknown"})${registered ? "" : "; it will not start again at logon until the task is registered"}.`,
    );
    return true;
  }
  if (o.platform === "darwin") {
    const plistFile = launchdPlistFile();
    await mkdir(path.dirname(plistFile), { recursive: true });
    await mkdir(logDirIn(o.dir), { recursive: true });
    await writeFile(plistFile, launchdPlist({ executable: o.executable, logFile: path.join(logDirIn(o.dir), "buhdi.log") }));
    o.say(`Wrote ${plistFile}`);
    if (!o.start) return false;
    const uid = String(process.getuid?.() ?? "");
    return tryCommands(o.say, "load the LaunchAgent", [["launchctl", ["bootstrap", `gui/${uid}`, plistFile]]], `${o.executable} run`);
  }
  throw new SetupError(`Buhdi cannot be set up on ${o.platform} yet.`);
}

function windowsUser(env: NodeJS.ProcessEnv): string {
  const user = env.USERNAME?.trim() || os.userInfo().username;
  const domain = env.USERDOMAIN?.trim();
  return domain ? `${domain}\\${user}` : user;
}

async function tryCommands(say: Say, what: string, commands: Array<[string, string[]]>, fallback: string | null): Promise<boolean> {
  for (const [command, args] of commands) {
    try {
      await run(command, args, { timeout: 30_000, windowsHide: true });
    } catch (error) {
      const detail = ((error as { stderr?: string }).stderr ?? "").trim() || (error as Error).message;
      say(
        `Could not ${what} (${command} ${args.join(" ")}: ${detail.split("\n")[0]}).${fallback ? ` Start it yourself with: ${fallback}` : ""}`,
      );
      return false;
    }
  }
  return true;
}

export type UninstallOptions = { keepFiles: boolean; env?: NodeJS.ProcessEnv; platform?: NodeJS.Platform; say?: Say };

/** Returns false if the cloud could not be told (everything local is removed anyway). */
export async function uninstall(options: UninstallOptions): Promise<{ retired: boolean }> {
  const env = options.env ?? process.env;
  const platform = options.platform ?? process.platform;
  const say = options.say ?? ((line: string) => process.stdout.write(`${line}\n`));
  const dir = installDir(env, platform);
  const paths = homePaths(homeOf(env, dir));

  const retired = await retire(paths, say);

  if (platform === "linux") {
    await tryCommands(say, "stop the systemd service", [["systemctl", ["--user", "disable", "--now", SYSTEMD_UNIT_NAME]]], null);
    await rm(systemdUnitFile(env), { force: true });
    await tryCommands(say, "reload systemd", [["systemctl", ["--user", "daemon-reload"]]], null);
  } else if (platform === "win32") {
    await tryCommands(say, "remove the logon task", [["schtasks", ["/Delete", "/TN", TASK_NAME, "/F"]]], null);
    await tryCommands(say, "remove the Run value", [["reg", ["delete", WINDOWS_RUN_KEY, "/v", "Buhdi", "/f"]]], null);
  } else if (platform === "darwin") {
    const uid = String(process.getuid?.() ?? "");
    await tryCommands(say, "unload the LaunchAgent", [["launchctl", ["bootout", `gui/${uid}/${LAUNCHD_LABEL}`]]], null);
    await rm(launchdPlistFile(), { force: true });
  }
  await stopSupervisor(dir, platform, say);

  if (!options.keepFiles) {
    if (platform === "win32") {
      // Buhdi.exe is running this very code and belongs to the MSI, which removes it next.
      for (const part of ["home", "logs", "agent", "buhdi-task.xml"]) await rm(path.join(dir, part), { recursive: true, force: true });
    } else {
      await rm(dir, { recursive: true, force: true });
    }
    say(`Removed ${dir}`);
  }
  return { retired };
}

async function retire(paths: ReturnType<typeof homePaths>, say: Say): Promise<boolean> {
  let enrollment: Awaited<ReturnType<typeof loadEnrollment>>;
  try {
    enrollment = await loadEnrollment(paths);
  } catch {
    say("This computer was not connected to Buhdi; nothing to tell the cloud.");
    return true;
  }
  try {
    const res = await fetch(`${enrollment.server}/api/node/retire`, {
      method: "POST",
      headers: { [NODE_KEY_HEADER]: enrollment.key },
      signal: AbortSignal.timeout(15_000),
    });
    if (res.ok || res.status === 401) {
      // 401: the key no longer works, which is what retiring makes true.
      say(`Told ${enrollment.server} that node ${enrollment.node_id} is retired.`);
      return true;
    }
    const info = await readApiError(res);
    say(`The cloud did not take the retirement (${info.status}: ${info.message}); removing Buhdi anyway.`);
  } catch (error) {
    say(`Could not reach ${enrollment.server} (${describeNetworkError(error)}); removing Buhdi anyway.`);
  }
  return false;
}

/**
 * Stops a running supervisor and then its node program (by the pids they left in the home):
 * the supervisor first, so it does not start the program again. SIGTERM on POSIX (the supervisor
 * stops its program itself); on Windows process.kill terminates, which leaves the program
 * running, hence the second kill.
 */
async function stopSupervisor(dir: string, platform: NodeJS.Platform, say: Say): Promise<void> {
  const home = homePaths(homeOf(process.env, dir));
  const supervisor = await readPid(supervisorPidFile(dir), (text) => text);
  const program = await readPid(home.endpoint, (text) => String((JSON.parse(text) as { pid?: unknown }).pid));
  for (const pid of platform === "win32" ? [supervisor, program] : [supervisor]) {
    if (pid === null || pid === process.pid) continue;
    try {
      process.kill(pid, "SIGTERM");
    } catch {
      continue; // not running
    }
    // Bounded: the supervisor stops its node program on SIGTERM before it exits.
    const deadline = Date.now() + 10_000;
    while (isAlive(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    say(isAlive(pid) ? `Buhdi (pid ${pid}) did not stop within 10 s.` : `Stopped the running Buhdi (pid ${pid}).`);
  }
}

async function readPid(file: string, extract: (text: string) => string): Promise<number | null> {
  try {
    const pid = Number(extract(await readFile(file, "utf8")).trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The command line of both commands; returns the exit code. */
export async function setupCommand(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const say = (line: string) => process.stdout.write(`${line}\n`);
  if (command === "setup") {
    const { values } = parseArgs({
      args: rest,
      options: {
        code: { type: "string" },
        server: { type: "string" },
        msi: { type: "string" },
        "no-start": { type: "boolean", default: false },
      },
    });
    if (!values.server) {
      process.stderr.write("buhdi-node setup: --server <url> is required\n");
      return 2;
    }
    try {
      const done = await setup({
        code: values.code ?? null,
        server: values.server,
        msi: values.msi ?? null,
        start: !values["no-start"],
        say,
      });
      const later = done.nodeId === null ? " It will connect to your account as soon as this computer is online." : "";
      say(
        done.started
          ? `Buhdi is running and will start every time you log in.${later}`
          : `Buhdi is installed. Start it with: ${done.executable} run${later}`,
      );
      return 0;
    } catch (error) {
      if (error instanceof Error && (error.name === "SetupError" || error.name === "EnrollError")) {
        process.stderr.write(`${error.message}\n`);
        return 1;
      }
      throw error;
    }
  }
  const { values } = parseArgs({ args: rest, options: { "keep-files": { type: "boolean", default: false } } });
  const { retired } = await uninstall({ keepFiles: values["keep-files"], say });
  say(retired ? "Buhdi is removed from this computer." : "Buhdi is removed from this computer, but the cloud was not told.");
  return retired ? 0 : 1;
}
