/**
 * The Windows MSI under Wine, against a real local edge, in one life of an install:
 *  - a per-user install (no elevation) into %LOCALAPPDATA%\Buhdi with the HKCU Run value, while
 *    the edge cannot be reached: the deferred custom action runs `Buhdi.exe setup`, which reads
 *    the code from the MSI's own file name (a browser's " (1)" included), cannot enroll, saves
 *    the code, writes the task XML and starts the supervisor; msiexec succeeds;
 *  - the edge answers: the running Buhdi.exe enrolls with the saved code and shows online;
 *  - `msiexec /x` runs `Buhdi.exe uninstall` (the node is retired) and removes everything.
 *
 * What Wine cannot show (the scheduled task: Wine's Task Scheduler keeps no triggers, and on a
 * loaded machine its service does not even start; UAC; SmartScreen; a major upgrade, whose
 * removal of the old version Wine runs without UPGRADINGPRODUCTCODE) is listed in docs/install.md.
 */
import { execFile } from "node:child_process";
import { access, copyFile, mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { peSubsystem, signFile } from "../../scripts/build-installers.ts";
import { type Edge, startEdge } from "../support/edge.ts";
import { REPO_ROOT } from "../support/helpers.ts";
import { testInstaller } from "../support/installers.ts";
import { tcpGate, type TcpGate } from "../support/tcp-gate.ts";
import { eventually, FAST_EDGE_VARS, FAST_NODE_ENV } from "../support/live-node.ts";

const run = promisify(execFile);

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

/** An msiexec log: UTF-16 with a byte-order mark on Windows, plain text from Wine. */
async function readMsiLog(file: string): Promise<string> {
  const bytes = await readFile(file).catch(() => null);
  if (bytes === null) return "(no MSI log)";
  return bytes[0] === 0xff && bytes[1] === 0xfe ? bytes.subarray(2).toString("utf16le") : bytes.toString("utf8");
}

/** A Unix path as Wine's Z: drive sees it. */
function winPath(file: string): string {
  return `Z:${file.replaceAll("/", "\\")}`;
}

describe("the Windows installer (MSI) under Wine", () => {
  let edge: Edge;
  let msi: string;
  let prefix: string;
  let work: string;
  let env: NodeJS.ProcessEnv;
  const gates: TcpGate[] = [];

  const wine = (args: string[], timeout = 120_000) => run("wine", args, { env, timeout, maxBuffer: 1 << 22 });
  /** msiexec with a verbose log; a failure says why in the MSI's own words and Buhdi's log. */
  const msiexec = async (args: string[], logName: string, buhdiLog: () => Promise<string>) => {
    const logFile = path.join(work, logName);
    try {
      return await wine(["msiexec", ...args, "/l*v", winPath(logFile)]);
    } catch (error) {
      const msiLog = await readMsiLog(logFile);
      const why = msiLog
        .split(/\r?\n/)
        .filter((line) => /return value 3|error|failed|CustomAction/i.test(line))
        .slice(-30)
        .join("\n");
      throw new Error(
        `msiexec ${args.join(" ")} failed: ${(error as Error).message}\n${why}\n--- buhdi.log ---\n${(await buhdiLog()).slice(-3000)}`,
      );
    }
  };

  beforeAll(async () => {
    prefix = await mkdtemp(path.join(os.tmpdir(), "buhdi-wine-"));
    work = await mkdtemp(path.join(os.tmpdir(), "buhdi-msi-"));
    env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      WINEPREFIX: prefix,
      WINEDEBUG: "-all",
      // No Mono or Gecko download prompts in a fresh prefix.
      WINEDLLOVERRIDES: "mscoree,mshtml=",
      NODE_OPTIONS: `--require ${winPath(path.join(REPO_ROOT, "test", "support", "wine-keepalive.cjs"))}`,
      ...FAST_NODE_ENV,
      BUHDI_NODE_ENROLL_RETRY_MS: "200",
      BUHDI_NODE_ENROLL_RETRY_CAP_MS: "1000",
    };
    const prepareWine = async () => {
      await run("wineboot", ["-i"], { env, timeout: 180_000 });
      // Node 22 refuses to start on anything older than Windows 8.1, Wine's default here.
      await wine(["reg", "add", "HKCU\\Software\\Wine", "/v", "Version", "/d", "win10", "/f"]);
    };
    [edge, msi] = await Promise.all([
      startEdge({ vars: FAST_EDGE_VARS }),
      testInstaller("windows-x64").then((b) => b.file),
      prepareWine(),
    ]).then(([e, m]) => [e, m] as const);
  }, 400_000);

  afterAll(async () => {
    // Every Windows process of this prefix (supervisor, node program) goes with its wineserver.
    if (prefix) await run("wineserver", ["-k"], { env, timeout: 30_000 }).catch(() => {});
    for (const gate of gates) await gate.close();
    await edge?.stop();
    for (const dir of [prefix, work]) if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("installs per user with the edge unreachable, connects by itself once it answers, and uninstalls retiring it", {
    timeout: 400_000,
  }, async () => {
    const code = await edge.newCode();
    const downloaded = path.join(work, `Buhdi-Setup-${code} (1).msi`);
    await copyFile(msi, downloaded);
    // The edge's address with nothing listening yet: the computer is offline while installing.
    const gate = await tcpGate(edge.url);
    gates.push(gate);

    const dir = path.join(prefix, "drive_c", "users", os.userInfo().username, "AppData", "Local", "Buhdi");
    const log = () => readFile(path.join(dir, "logs", "buhdi.log"), "utf8").catch(() => "(no log)");
    await msiexec(["/i", winPath(downloaded), "/qn", `SERVER=${gate.url}`], "install.log", log);
    expect(await exists(path.join(dir, "Buhdi.exe")), await readMsiLog(path.join(work, "install.log"))).toBe(true);
    expect(await peSubsystem(path.join(dir, "Buhdi.exe"))).toBe(2);
    const runValue = await wine(["reg", "query", "HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run", "/v", "Buhdi"]);
    expect(runValue.stdout).toContain(`"C:\\users\\${os.userInfo().username}\\AppData\\Local\\Buhdi\\Buhdi.exe" run`);
    // msiexec succeeded without the network: the code from the file name is kept for later.
    const pendingFile = path.join(dir, "home", "pending-enrollment.json");
    expect(JSON.parse(await readFile(pendingFile, "utf8"))).toMatchObject({ code, server: gate.url });
    expect(await exists(path.join(dir, "home", "config.json"))).toBe(false);
    expect(await log()).toContain("will connect this computer by itself as soon as it can");
    const taskXml = (await readFile(path.join(dir, "buhdi-task.xml"))).subarray(2).toString("utf16le");
    expect(taskXml).toContain("<LogonTrigger>");
    expect(taskXml).toContain("<EventTrigger>");
    expect(taskXml).toContain("Buhdi.exe</Command>");

    // The edge answers: the Buhdi.exe the custom action started enrolls with the saved code.
    await gate.open();
    const configFile = path.join(dir, "home", "config.json");
    await eventually(
      () => exists(configFile),
      (ok) => ok,
      60_000,
      `the running Buhdi.exe to enroll with the saved code (log: ${await log()})`,
    );
    const config = JSON.parse(await readFile(configFile, "utf8")) as { node_id: string; server: string };
    expect(config.server).toBe(gate.url);
    await eventually(
      async () => (await edge.nodeView(config.node_id)).status,
      (s) => s === "online",
      60_000,
      `the node online (log: ${await log()})`,
    );
    expect((await edge.nodeView(config.node_id)).version).toBe("0.3.0");
    expect(await exists(pendingFile)).toBe(false);
    const nodeKey = (await readFile(path.join(dir, "home", "node.key"), "utf8")).trim();

    await msiexec(["/x", winPath(downloaded), "/qn"], "uninstall.log", log);
    const uninstallLog = () => readMsiLog(path.join(work, "uninstall.log"));
    await eventually(
      () => exists(path.join(dir, "Buhdi.exe")),
      (present) => !present,
      30_000,
      "Buhdi.exe removed by msiexec /x",
    );
    expect(await exists(path.join(dir, "home")), await uninstallLog()).toBe(false);
    expect(await exists(path.join(dir, "logs"))).toBe(false);
    await expect(wine(["reg", "query", "HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run", "/v", "Buhdi"])).rejects.toThrow();
    const refused = await fetch(`${edge.url}/api/node/versions`, { headers: { "x-node-key": nodeKey } });
    expect(refused.status).toBe(401);
    expect(await edge.nodeView(config.node_id)).toMatchObject({ status: "retired", connected: false });
  });

  it("signs Buhdi.exe with a configured code-signing key, and osslsigncode verifies the signature", async () => {
    const cert = path.join(work, "cert.pem");
    const key = path.join(work, "key.pem");
    await run("openssl", [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      key,
      "-out",
      cert,
      "-days",
      "2",
      "-subj",
      "/CN=Buhdi test",
      "-addext",
      "extendedKeyUsage=codeSigning",
    ]);
    const exe = path.join(work, "Buhdi.exe");
    await copyFile(path.join(path.dirname(msi), "Buhdi.unsigned.exe"), exe);
    await expect(run("osslsigncode", ["verify", "-in", exe, "-CAfile", cert])).rejects.toThrow();
    await signFile(exe, { cert, key });
    const verified = await run("osslsigncode", ["verify", "-in", exe, "-CAfile", cert]);
    expect(verified.stdout).toContain("Succeeded");
    expect(await peSubsystem(exe)).toBe(2);
  });
});
