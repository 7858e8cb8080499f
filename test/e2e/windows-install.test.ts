/**
 * The Windows MSI under Wine, against a real local edge: a per-user install (no elevation) into
 * %LOCALAPPDATA%\Buhdi with the HKCU Run value; the deferred custom action runs `Buhdi.exe setup`,
 * which reads the code from the MSI's own file name (a browser's " (1)" included), enrolls,
 * writes the task XML, registers it with schtasks and starts the supervisor; the node shows
 * online; `msiexec /x` runs `Buhdi.exe uninstall` (the node is retired) and removes everything.
 *
 * What Wine cannot show (the task's logon trigger and repetition: Wine's schtasks accepts the XML
 * but keeps no triggers; UAC; SmartScreen; files in use on upgrade) is listed in docs/install.md.
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
import { eventually, FAST_EDGE_VARS, FAST_NODE_ENV } from "../support/live-node.ts";

const run = promisify(execFile);

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
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

  const wine = (args: string[], timeout = 120_000) => run("wine", args, { env, timeout, maxBuffer: 1 << 22 });

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
    await edge?.stop();
    for (const dir of [prefix, work]) if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("installs per user, enrolls with the code from its file name, runs online, and uninstalls retiring the node", {
    timeout: 300_000,
  }, async () => {
    const code = await edge.newCode();
    const downloaded = path.join(work, `Buhdi-Setup-${code} (1).msi`);
    await copyFile(msi, downloaded);

    await wine(["msiexec", "/i", winPath(downloaded), "/qn", `SERVER=${edge.url}`, "/l*v", winPath(path.join(work, "install.log"))]);
    const dir = path.join(prefix, "drive_c", "users", os.userInfo().username, "AppData", "Local", "Buhdi");
    const log = () => readFile(path.join(dir, "logs", "buhdi.log"), "utf8").catch(() => "(no log)");
    expect(await exists(path.join(dir, "Buhdi.exe")), await readFile(path.join(work, "install.log"), "utf16le").catch(() => "")).toBe(true);
    expect(await peSubsystem(path.join(dir, "Buhdi.exe"))).toBe(2);

    const runValue = await wine(["reg", "query", "HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run", "/v", "Buhdi"]);
    expect(runValue.stdout).toContain(`"C:\\users\\${os.userInfo().username}\\AppData\\Local\\Buhdi\\Buhdi.exe" run`);

    const configFile = path.join(dir, "home", "config.json");
    await eventually(
      () => exists(configFile),
      (ok) => ok,
      30_000,
      "the custom action's setup to enroll (config.json)",
    );
    const config = JSON.parse(await readFile(configFile, "utf8")) as { node_id: string; server: string };
    expect(config.server).toBe(edge.url);
    const taskXml = (await readFile(path.join(dir, "buhdi-task.xml"))).subarray(2).toString("utf16le");
    expect(taskXml).toContain("<LogonTrigger>");
    expect(taskXml).toContain("Buhdi.exe</Command>");
    expect(await log()).toContain("Buhdi is running and will start every time you log in.");

    await eventually(
      async () => (await edge.nodeView(config.node_id)).status,
      (s) => s === "online",
      60_000,
      `the node online (log: ${await log()})`,
    );
    const view = await edge.nodeView(config.node_id);
    expect(view.version).toBe("0.3.0");

    const nodeKey = (await readFile(path.join(dir, "home", "node.key"), "utf8")).trim();
    await wine(["msiexec", "/x", winPath(downloaded), "/qn", "/l*v", winPath(path.join(work, "uninstall.log"))]);
    const uninstallLog = () => readFile(path.join(work, "uninstall.log"), "utf16le").catch(() => "");
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
    await eventually(
      async () => (await edge.nodeView(config.node_id)).status,
      (s) => s === "offline",
      30_000,
      "the retired node offline",
    );
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
