/**
 * The Linux single executable, end to end against a real local edge: `setup` installs it under
 * ~/.local/share/buhdi, enrolls with the code and writes a systemd user unit that passes
 * `systemd-analyze verify`; the installed executable runs the way the unit runs it, shows online,
 * crashes and reports the crash; `uninstall` retires the node in the cloud and removes everything.
 *
 * The container has no user systemd manager, so setup runs with --no-start and the test starts
 * the unit's ExecStart itself; the unit file is verified in system mode.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { access, mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Edge, startEdge } from "../support/edge.ts";
import { collect, type CliResult } from "../support/helpers.ts";
import { testInstaller } from "../support/installers.ts";
import { eventually, FAST_EDGE_VARS, FAST_NODE_ENV } from "../support/live-node.ts";

const run = promisify(execFile);

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

describe("the Linux single executable", () => {
  let edge: Edge;
  let exe: string;
  let user: string;
  const started: ChildProcess[] = [];

  beforeAll(async () => {
    [edge, exe] = await Promise.all([startEdge({ vars: FAST_EDGE_VARS }), testInstaller("linux-x64").then((b) => b.file)]);
    user = await mkdtemp(path.join(os.tmpdir(), "buhdi-linux-user-"));
  }, 300_000);
  afterAll(async () => {
    for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await edge?.stop();
    if (user) await rm(user, { recursive: true, force: true });
  });

  /** The owner's environment: their own HOME, nothing of the test's BUHDI_* settings. */
  const ownerEnv = (): NodeJS.ProcessEnv => {
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: user, ...FAST_NODE_ENV };
    return env;
  };
  const runExe = (file: string, args: string[]): Promise<CliResult> =>
    collect(spawn(file, args, { env: ownerEnv(), stdio: ["ignore", "pipe", "pipe"] }), 60_000);

  it("sets up, runs online, reports a crash, and uninstalls leaving nothing and the node retired", { timeout: 180_000 }, async () => {
    const code = await edge.newCode();
    const setup = await runExe(exe, ["setup", "--code", code, "--server", edge.url, "--no-start"]);
    expect(setup.code, setup.stderr).toBe(0);
    const dir = path.join(user, ".local", "share", "buhdi");
    const installed = path.join(dir, "buhdi-node");
    const unitFile = path.join(user, ".config", "systemd", "user", "buhdi-node.service");
    expect(setup.stdout).toContain(`Installed Buhdi in ${dir}`);
    expect(await exists(installed)).toBe(true);

    const unit = await readFile(unitFile, "utf8");
    expect(unit).toContain(`ExecStart=${installed} run`);
    expect(unit).toMatch(/^Restart=always$/m);
    expect(unit).toMatch(/^StartLimitIntervalSec=0$/m);
    expect(unit).toMatch(/^WantedBy=default\.target$/m);
    // System mode: user mode needs a user manager this container does not run.
    const verify = await run("systemd-analyze", ["verify", unitFile]).then(
      (r) => ({ ok: true, out: r.stderr }),
      (e: { stderr?: string; message: string }) => ({ ok: false, out: e.stderr ?? e.message }),
    );
    expect(verify, verify.out).toMatchObject({ ok: true });

    const config = JSON.parse(await readFile(path.join(dir, "home", "config.json"), "utf8")) as { node_id: string; server: string };
    expect(config.server).toBe(edge.url);

    // What systemd would run.
    const supervisor = spawn(installed, ["run"], { env: ownerEnv(), stdio: ["ignore", "pipe", "pipe"] });
    started.push(supervisor);
    let log = "";
    supervisor.stderr!.on("data", (d: Buffer) => (log += d.toString()));
    supervisor.stdout!.on("data", (d: Buffer) => (log += d.toString()));
    await eventually(
      () => edge.nodeView(config.node_id),
      (v) => v.status === "online" && v.version === "0.3.0",
      60_000,
      "the node online on 0.3.0",
    );

    // A second start (login and a manual start, say) steps aside instead of fighting for the port.
    const second = await runExe(installed, ["run"]);
    expect(second.code).toBe(0);
    expect(second.stderr).toContain("a supervisor is already running");

    // A crash: the node program killed outright; the supervisor records it and the next program reports it.
    const endpoint = JSON.parse(await readFile(path.join(dir, "home", "endpoint.json"), "utf8")) as { pid: number };
    process.kill(endpoint.pid, "SIGKILL");
    const crash = await eventually(
      () => edge.telemetryOf(config.node_id),
      (rows) => rows.some((r) => r.type === "crash_report"),
      60_000,
      `a crash report from the installed node (its log: ${log})`,
    );
    expect(crash.find((r) => r.type === "crash_report")!.payload.entries!.join("\n")).toMatch(/EXIT code=null signal=SIGKILL/);

    const nodeKey = (await readFile(path.join(dir, "home", "node.key"), "utf8")).trim();
    const removed = await runExe(installed, ["uninstall"]);
    expect(removed.code, removed.stdout + removed.stderr).toBe(0);
    expect(removed.stdout).toContain(`node ${config.node_id} is retired`);
    await eventually(
      () => supervisor.exitCode !== null || supervisor.signalCode !== null,
      (gone) => gone,
      15_000,
      "the supervisor to stop",
    );
    expect(await exists(dir)).toBe(false);
    expect(await exists(unitFile)).toBe(false);
    // The cloud refuses the retired node's key; the node's history stays.
    const refused = await fetch(`${edge.url}/api/node/versions`, { headers: { "x-node-key": nodeKey } });
    expect(refused.status).toBe(401);
    expect((await edge.telemetryOf(config.node_id)).some((r) => r.type === "crash_report")).toBe(true);
  });
});
