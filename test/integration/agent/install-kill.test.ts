/**
 * kill -9 during an install, at every step where it changes the disk (install.ts), then the node
 * started the way an owner starts it (`buhdi-node run`): it always comes up, on the old version
 * before the `current` switch and on the new one after it, never on none. Tried from a node
 * running the agent it was started from (0.3.0 sources) and from one running an installed
 * 0.3.2; the install is a real process SIGKILLed at the step (install-until-killed.ts). After
 * the check the same install is run again to the end: an interrupted install never blocks the
 * next one. And a `current` that points at nothing usable still gives a running node.
 */
import { spawn } from "node:child_process";
import { copyFile, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { INSTALL_STEPS } from "../../../agent/update/install.ts";
import { buildAgent } from "../../../scripts/build-agent.ts";
import type { BuiltAgent } from "../../../scripts/build-agent.ts";
import { CLI, NODE_BIN, closedPortUrl, collect, fakeEnrolledHome, tempHome } from "../../support/helpers.ts";
import { eventually } from "../../support/live-node.ts";
import { nodeRunner } from "../../support/node-runner.ts";
import { manifestFor, signRelease, testKey, trustEnv } from "../../support/release-fixtures.ts";

const INSTALLER = fileURLToPath(new URL("../../support/install-until-killed.ts", import.meta.url));
const runner = nodeRunner();
let outDir: string;
let v032: BuiltAgent;
let v040: BuiltAgent;
let releaseFile: string;
let env: Record<string, string>;

beforeAll(async () => {
  outDir = await tempHome();
  [v032, v040] = await Promise.all([buildAgent({ version: "0.3.2", outDir }), buildAgent({ version: "0.4.0", outDir })]);
  const key = testKey();
  const bytes = await readFile(v040.file);
  releaseFile = path.join(outDir, "release-0.4.0.json");
  await writeFile(releaseFile, JSON.stringify(signRelease(manifestFor(bytes, { version: "0.4.0" }), key)));
  env = trustEnv(key);
});

afterAll(async () => {
  runner.stopAll();
  await rm(outDir, { recursive: true, force: true });
});

async function install(home: string, killAt: string, runningVersion: string) {
  // The child's runningVersion is the old node's: what `previous` is decided from.
  const child = spawn(NODE_BIN, [INSTALLER, home, killAt, releaseFile, v040.file], {
    env: { ...process.env, ...env, BUHDI_NODE_VERSION: runningVersion },
    stdio: ["ignore", "pipe", "pipe"],
  });
  return collect(child, 30_000);
}

type Base = { name: string; version: string; prepare(home: string): Promise<void> };
const BASES: Base[] = [
  { name: "the agent it was started from (0.3.0)", version: "0.3.0", prepare: async () => undefined },
  {
    name: "an installed 0.3.2",
    version: "0.3.2",
    prepare: async (home) => {
      await mkdir(path.join(home, "versions", "0.3.2"), { recursive: true });
      await copyFile(v032.file, path.join(home, "versions", "0.3.2", "buhdi-node.mjs"));
      await writeFile(path.join(home, "current"), "0.3.2\n");
    },
  },
];
const AFTER_COMMIT = new Set(["prune", "none"]);
const CASES = BASES.flatMap((base) => [...INSTALL_STEPS, "none"].map((step) => ({ base, step })));

describe.concurrent("kill -9 during an install", () => {
  it.each(CASES)("killed before $step, from $base.name: the node starts, on the old version or the new", async ({ base, step }) => {
    const home = await fakeEnrolledHome(await closedPortUrl());
    await base.prepare(home);
    const killed = await install(home, step, base.version);
    if (step === "none") expect(killed.code).toBe(0);
    else expect(killed.signal).toBe("SIGKILL");

    const node = runner.start(CLI, home, env);
    const health = await node.healthWhen(() => true, 30_000);
    const expected = AFTER_COMMIT.has(step) ? "0.4.0" : base.version;
    expect(health?.version).toBe(expected);
    if (expected === base.version) {
      // A trial written before the switch names a version that never started: dropped, never a rollback.
      expect(
        await eventually(
          () => readFile(path.join(home, "update-trial.json"), "utf8").catch(() => null),
          (t) => t === null,
        ),
      ).toBeNull();
    } else {
      // Installed: what a rollback needs is there.
      const previous = await readFile(path.join(home, "previous"), "utf8").catch(() => null);
      expect(previous).toBe(base.version === "0.3.0" ? null : `${base.version}\n`);
    }
    node.supervisor.kill("SIGKILL");
    process.kill(health!.pid, "SIGKILL");

    // Killed before the switch: the same install again, to the end; nothing the kill left gets in its way.
    if (expected === base.version) {
      const again = await install(home, "none", base.version);
      expect(again.code).toBe(0);
      expect(await readFile(path.join(home, "current"), "utf8")).toBe("0.4.0\n");
      const kept = base.version === "0.3.0" ? ["0.4.0"] : ["0.3.2", "0.4.0"];
      expect((await readdir(path.join(home, "versions"))).sort()).toEqual(kept);
    }
  });
});

describe.concurrent("a damaged `current`", () => {
  it.each([
    ["names a version whose bundle is missing", "0.9.9\n"],
    ["holds something that is not a version", "../../etc\n"],
  ])("that %s: the supervisor starts the agent it was started from", async (_what, content) => {
    const home = await fakeEnrolledHome(await closedPortUrl());
    await writeFile(path.join(home, "current"), content);
    const node = runner.start(CLI, home, env);
    const health = await node.healthWhen(() => true, 30_000);
    expect(health?.version).toBe("0.3.0");
    if (content.startsWith("0.9.9")) expect(node.stderr()).toMatch(/names 0\.9\.9, but .*versions\/0\.9\.9\/buhdi-node\.mjs is missing/);
  });
});
