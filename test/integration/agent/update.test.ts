/**
 * Software updates end to end with real processes and real release bundles (built once per file
 * by scripts/build-agent.ts, signed with a key made here): a node running 0.3.1 from its bundle
 * is sent 0.3.2 on its command channel, installs it, restarts into it and calls it healthy after
 * the rollback window; a release that dies on start is rolled back to the version before it,
 * reported with its crash lines, and never installed on that node again.
 */
import { copyFile, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { TelemetryEvent } from "../../../protocol/index.ts";
import { buildAgent } from "../../../scripts/build-agent.ts";
import type { BuiltAgent } from "../../../scripts/build-agent.ts";
import { CLI, fakeEnrolledHome, tempHome } from "../../support/helpers.ts";
import { eventually } from "../../support/live-node.ts";
import { honestBundle, startFakeCloud } from "../../support/fake-cloud.ts";
import type { FakeCloud } from "../../support/fake-cloud.ts";
import { nodeRunner } from "../../support/node-runner.ts";
import { manifestFor, signRelease, testKey, trustEnv } from "../../support/release-fixtures.ts";
import type { TestKey } from "../../support/release-fixtures.ts";

const NODE_ID = "8a0c6a56-52a3-4f39-9e9b-0b6c1c4f6f34"; // fakeEnrolledHome's
const CRASHING_ENTRY = fileURLToPath(new URL("../../../scripts/demo/releases/dies-on-start.ts", import.meta.url));

const runner = nodeRunner();
let key: TestKey;
let outDir: string;
let v031: BuiltAgent;
let v032: BuiltAgent;
let v033: BuiltAgent;
const cleanups: Array<() => Promise<void> | void> = [];

beforeAll(async () => {
  key = testKey();
  outDir = await tempHome();
  [v031, v032, v033] = await Promise.all([
    buildAgent({ version: "0.3.1", outDir }),
    buildAgent({ version: "0.3.2", outDir }),
    buildAgent({ version: "0.3.3", outDir, entry: CRASHING_ENTRY }),
  ]);
});

afterEach(async () => {
  runner.stopAll();
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

afterAll(async () => {
  await rm(outDir, { recursive: true, force: true });
});

async function cloudFor(): Promise<FakeCloud> {
  const cloud = await startFakeCloud(NODE_ID);
  cleanups.push(cloud.close);
  return cloud;
}

async function signedFor(built: BuiltAgent) {
  const bytes = await readFile(built.file);
  return { bytes, release: signRelease(manifestFor(bytes, { version: built.version }), key) };
}

const readOrNull = (file: string) => readFile(file, "utf8").catch(() => null);
const progress = (stage: string) => (e: TelemetryEvent) => e.type === "update_progress" && e.details?.stage === stage;

describe("an update", () => {
  it("is installed from the command channel, the node restarts into it, reports downloaded, installed and healthy, and a later death is an ordinary restart", async () => {
    const cloud = await cloudFor();
    const home = await fakeEnrolledHome(cloud.url);
    const node = runner.start(v031.file, home, { ...trustEnv(key), BUHDI_NODE_UPDATE_HEALTHY_MS: "1500" });
    const old = await node.healthWhen((h) => h.version === "0.3.1" && h.connection.connected);
    expect(old?.version).toBe("0.3.1");

    const { bytes, release } = await signedFor(v032);
    cloud.serveBundle(honestBundle(bytes));
    const id = await cloud.sendCommand(release);
    expect(await cloud.waitForAck(id)).toMatchObject({ status: "done", detail: "installed 0.3.2; restarting into it" });

    const fresh = await node.healthWhen((h) => h.version === "0.3.2");
    expect(fresh?.pid).not.toBe(old!.pid);
    const versionDir = path.join(home, "versions", "0.3.2");
    expect(await readFile(path.join(versionDir, "buhdi-node.mjs"))).toEqual(bytes);
    expect(await readFile(path.join(versionDir, "manifest.json"), "utf8")).toBe(release.manifest);
    expect(JSON.parse(await readFile(path.join(versionDir, "signature.json"), "utf8"))).toEqual({
      key_id: release.key_id,
      signature: release.signature,
    });
    expect(await readOrNull(path.join(home, "current"))).toBe("0.3.2\n");
    // 0.3.1 is the agent the supervisor was started from, not an installed version: rollback = no `current`.
    expect(await readOrNull(path.join(home, "previous"))).toBeNull();

    const downloaded = await cloud.waitForTelemetry(progress("downloaded"), "downloaded");
    const installed = await cloud.waitForTelemetry(progress("installed"), "installed");
    const healthy = await cloud.waitForTelemetry(progress("healthy"), "healthy");
    expect([downloaded.node_version, installed.node_version, healthy.node_version]).toEqual(["0.3.1", "0.3.1", "0.3.2"]);
    expect(installed.details).toMatchObject({ version: "0.3.2", from: "0.3.1" });
    expect(healthy.details).toMatchObject({ version: "0.3.2", after_ms: 1500 });
    expect(Date.parse(healthy.timestamp) - Date.parse(installed.timestamp)).toBeGreaterThanOrEqual(1500);
    expect(
      await eventually(
        () => readOrNull(path.join(home, "update-trial.json")),
        (t) => t === null,
      ),
    ).toBeNull();

    // The ack may have been lost with the restart: the new version answers it from the store.
    const requests = cloud.bundleRequests.length;
    cloud.acks.length = 0;
    await cloud.sendCommand(release, { id });
    expect(await cloud.waitForAck(id)).toMatchObject({ status: "done", detail: "installed 0.3.2; restarting into it" });
    expect(cloud.bundleRequests.length).toBe(requests);

    // Past its window a crash is a crash: restarted on 0.3.2, no rollback.
    process.kill(fresh!.pid, "SIGKILL");
    const restarted = await node.healthWhen((h) => h.pid !== fresh!.pid);
    expect(restarted?.version).toBe("0.3.2");
    expect(await readOrNull(path.join(home, "current"))).toBe("0.3.2\n");
    expect(cloud.telemetry.filter((e) => e.type === "update_rolled_back")).toEqual([]);
    expect(cloud.refusedTelemetry).toEqual([]);
  });

  it("that dies on start is rolled back to the version before it within the window, reported with its crash lines, and never installed again", async () => {
    const cloud = await cloudFor();
    const home = await fakeEnrolledHome(cloud.url);
    // This node already runs 0.3.2 from versions/ (installed earlier); its supervisor is the 0.3.0 sources.
    await mkdir(path.join(home, "versions", "0.3.2"), { recursive: true });
    await copyFile(v032.file, path.join(home, "versions", "0.3.2", "buhdi-node.mjs"));
    await writeFile(path.join(home, "current"), "0.3.2\n");
    const node = runner.start(CLI, home, { ...trustEnv(key), BUHDI_NODE_UPDATE_HEALTHY_MS: "20000" });
    const before = await node.healthWhen((h) => h.version === "0.3.2" && h.connection.connected);
    expect(before?.version).toBe("0.3.2");

    const { bytes, release } = await signedFor(v033);
    cloud.serveBundle(honestBundle(bytes));
    const id = await cloud.sendCommand(release);
    expect(await cloud.waitForAck(id)).toMatchObject({ status: "done", detail: "installed 0.3.3; restarting into it" });

    const rolledBack = await cloud.waitForTelemetry((e) => e.type === "update_rolled_back", "update_rolled_back");
    expect(rolledBack.node_version).toBe("0.3.2");
    expect(rolledBack.details).toEqual({ stage: "rolled_back", version: "0.3.3", rolled_back_to: "0.3.2" });
    expect(
      rolledBack.entries.some((line) => line.includes('UNCAUGHT: Error: buhdi-node 0.3.3 cannot start: settings.json has no "port"')),
    ).toBe(true);
    expect(rolledBack.entries.at(-1)).toMatch(/ EXIT code=1 signal=null after \d+\.\d s on 0\.3\.3$/);
    // Only 0.3.3's lines: nothing from before it started.
    expect(rolledBack.entries.every((line) => !line.includes("0.3.2"))).toBe(true);

    const after = await node.healthWhen((h) => h.version === "0.3.2" && h.pid !== before!.pid);
    expect(after?.version).toBe("0.3.2");
    expect(await readOrNull(path.join(home, "current"))).toBe("0.3.2\n");
    expect(await readOrNull(path.join(home, "update-trial.json"))).toBeNull();
    expect(JSON.parse((await readOrNull(path.join(home, "rolled-back.json")))!)).toEqual({ versions: ["0.3.3"] });
    expect(node.stderr()).toMatch(/rolled back from 0\.3\.3 to 0\.3\.2/);
    // The version it goes back to ran well before: started at once, not after a crash backoff.
    expect(node.stderr()).toMatch(/starting 0\.3\.2 in 0\.0 s/);

    // The same release again (a new command): refused, nothing downloaded.
    const requests = cloud.bundleRequests.length;
    const again = await cloud.sendCommand(release);
    expect(await cloud.waitForAck(again)).toMatchObject({
      status: "failed",
      detail: "this node rolled back from 0.3.3 before; it will not install it again",
    });
    const refused = await cloud.waitForTelemetry((e) => e.type === "update_failed", "update_failed");
    expect(refused.details).toMatchObject({ code: "rolled_back_before", version: "0.3.3" });
    expect(cloud.bundleRequests.length).toBe(requests);
    expect((await node.health()).pid).toBe(after!.pid);
    expect(cloud.refusedTelemetry).toEqual([]);
  });
});
