/**
 * The Linux single executable, end to end against a real local edge: `setup` installs it under
 * ~/.local/share/buhdi, enrolls with the code and writes a systemd user unit that passes
 * `systemd-analyze verify`; the installed executable runs the way the unit runs it, shows online,
 * crashes and reports the crash; `uninstall` retires the node in the cloud and removes everything.
 * Set up while the edge cannot be reached, the install still succeeds and `run` enrolls with the
 * saved code once the edge answers; a code the edge refused fails setup with its plain sentence.
 *
 * The container has no user systemd manager, so setup runs with --no-start and the test starts
 * the unit's ExecStart itself; the unit file is verified in system mode.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { access, mkdtemp, readFile, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Edge, startEdge } from "../support/edge.ts";
import { tcpGate, type TcpGate } from "../support/tcp-gate.ts";
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
  const gates: TcpGate[] = [];
  const users: string[] = [];

  beforeAll(async () => {
    [edge, exe] = await Promise.all([startEdge({ vars: FAST_EDGE_VARS }), testInstaller("linux-x64").then((b) => b.executable!)]);
    user = await mkdtemp(path.join(os.tmpdir(), "buhdi-linux-user-"));
  }, 300_000);
  afterAll(async () => {
    for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    for (const gate of gates) await gate.close();
    await edge?.stop();
    for (const dir of [user, ...users]) if (dir) await rm(dir, { recursive: true, force: true });
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

  it("installs while the edge cannot be reached, and `run` enrolls with the saved code and goes online once it answers", {
    timeout: 180_000,
  }, async () => {
    const code = await edge.newCode();
    // The edge's address with nothing listening yet: a computer without network, as setup sees it.
    const gate = await tcpGate(edge.url);
    gates.push(gate);
    const home = await mkdtemp(path.join(os.tmpdir(), "buhdi-linux-offline-"));
    users.push(home);
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: home,
      ...FAST_NODE_ENV,
      BUHDI_NODE_ENROLL_RETRY_MS: "100",
      BUHDI_NODE_ENROLL_RETRY_CAP_MS: "500",
    };
    const setup = await collect(
      spawn(exe, ["setup", "--code", code, "--server", gate.url, "--no-start"], { env, stdio: ["ignore", "pipe", "pipe"] }),
      60_000,
    );
    expect(setup.code, setup.stdout + setup.stderr).toBe(0);
    expect(setup.stdout).toContain(`Could not reach ${gate.url}: ECONNREFUSED`);
    expect(setup.stdout).toContain("will connect this computer by itself as soon as it can");
    const dir = path.join(home, ".local", "share", "buhdi");
    const installed = path.join(dir, "buhdi-node");
    const pendingFile = path.join(dir, "home", "pending-enrollment.json");
    expect(await exists(installed)).toBe(true);
    expect(await exists(path.join(home, ".config", "systemd", "user", "buhdi-node.service"))).toBe(true);
    expect(await exists(path.join(dir, "home", "config.json"))).toBe(false);
    // The code is a credential until spent: readable by this user alone, in a home only they can enter.
    expect((await stat(pendingFile)).mode & 0o777).toBe(0o600);
    expect((await stat(path.join(dir, "home"))).mode & 0o777).toBe(0o700);
    expect(JSON.parse(await readFile(pendingFile, "utf8"))).toMatchObject({ code, server: gate.url });
    // A newer installer run before it could connect (an upgrade carries no code) keeps the saved one.
    const upgrade = await collect(
      spawn(exe, ["setup", "--server", gate.url, "--no-start"], { env, stdio: ["ignore", "pipe", "pipe"] }),
      60_000,
    );
    expect(upgrade.code, upgrade.stdout + upgrade.stderr).toBe(0);
    expect(upgrade.stdout).toContain("keeping the saved setup code");
    expect(JSON.parse(await readFile(pendingFile, "utf8"))).toMatchObject({ code, server: gate.url });

    // What systemd runs at login, still without the edge: it keeps trying with backoff.
    const supervisor = spawn(installed, ["run"], { env, stdio: ["ignore", "pipe", "pipe"] });
    started.push(supervisor);
    let log = "";
    supervisor.stderr!.on("data", (d: Buffer) => (log += d.toString()));
    supervisor.stdout!.on("data", (d: Buffer) => (log += d.toString()));
    await eventually(
      () => log,
      (text) => text.includes("could not enroll yet (attempt 2)"),
      60_000,
      "run to retry the saved code while the edge cannot be reached",
    );
    expect(supervisor.exitCode).toBeNull();

    await gate.open();
    const config = await eventually(
      () => readFile(path.join(dir, "home", "config.json"), "utf8").catch(() => ""),
      (text) => text !== "",
      60_000,
      `run to enroll once the edge answers (its log: ${log})`,
    );
    const { node_id: nodeId } = JSON.parse(config) as { node_id: string };
    await eventually(
      () => edge.nodeView(nodeId),
      (v) => v.status === "online" && v.version === "0.3.0",
      60_000,
      `the node enrolled late online on 0.3.0 (its log: ${log})`,
    );
    expect(await exists(pendingFile)).toBe(false);
    expect(log).toMatch(/connected this computer to Buhdi as node [0-9a-f-]{36} \(after \d+ attempts\)/);
    supervisor.kill("SIGTERM");
    await eventually(
      () => supervisor.exitCode !== null || supervisor.signalCode !== null,
      (gone) => gone,
      15_000,
      "the supervisor to stop on SIGTERM",
    );

    // The same code again, now spent: not a network failure. Setup fails with the edge's own
    // sentence (Nana needs a new link, now), and keeps no code to retry.
    const other = await mkdtemp(path.join(os.tmpdir(), "buhdi-linux-used-"));
    users.push(other);
    const refused = await collect(
      spawn(exe, ["setup", "--code", code, "--server", edge.url, "--no-start"], {
        env: { ...env, HOME: other },
        stdio: ["ignore", "pipe", "pipe"],
      }),
      60_000,
    );
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim()).toBe("Enrollment failed: This enrollment code was already used; ask for a new one.");
    expect(await exists(path.join(other, ".local", "share", "buhdi", "home", "pending-enrollment.json"))).toBe(false);
  });
});
