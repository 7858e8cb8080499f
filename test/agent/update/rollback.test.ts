/**
 * The supervisor's rollback on a real home directory, without processes: what it writes, that
 * doing it twice (a kill between its steps, then again) is the same report and the same state,
 * and which crash.log lines belong to the version that died.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { TelemetryEventSchema } from "../../../protocol/index.ts";
import { homePaths } from "../../../agent/core/paths.ts";
import { linesSince, rollBack } from "../../../agent/update/rollback.ts";
import { listEntries } from "../../../agent/outbox/spool.ts";
import { readRolledBack, readTrial, readVersionName, writeTrial } from "../../../agent/update/version-store.ts";
import { tempHome } from "../../support/helpers.ts";

const STARTED = Date.parse("2026-11-28T13:00:00.000Z");
const CRASH_LOG = [
  "[2026-11-28T12:59:58.000Z] UNCAUGHT: Error: an older crash of 0.3.2",
  "    at old (file:///x.mjs:1:1)",
  "[2026-11-28T12:59:58.100Z] EXIT code=1 signal=null after 0.4 s",
  "[2026-11-28T13:00:00.200Z] UNCAUGHT: Error: 0.3.3 cannot start",
  "    at start (file:///home/nana/.buhdi-node/versions/0.3.3/buhdi-node.mjs:9:9)",
  "[2026-11-28T13:00:00.300Z] EXIT code=1 signal=null after 0.3 s",
  "",
].join("\n");

async function homeOnTrial() {
  const paths = homePaths(await tempHome());
  await mkdir(paths.home, { recursive: true });
  await writeFile(paths.crashLog, CRASH_LOG);
  await writeFile(paths.current, "0.3.3\n");
  await writeFile(paths.previous, "0.3.2\n");
  await writeTrial(paths, { version: "0.3.3", installed_at: "2026-11-28T12:59:59.000Z" });
  return paths;
}

function rollBackIn(paths: ReturnType<typeof homePaths>) {
  return rollBack({
    paths,
    trial: { version: "0.3.3", installed_at: "2026-11-28T12:59:59.000Z" },
    startedAt: STARTED,
    baseVersion: "0.3.0",
    scrub: (line) => line.replaceAll("/home/nana", "~"),
    platform: "linux",
    arch: "x64",
    now: new Date(STARTED + 500),
    log: () => undefined,
  });
}

describe("rollBack", () => {
  it("switches current to previous, ends the trial, remembers the version and spools update_rolled_back with the dead version's scrubbed lines", async () => {
    const paths = await homeOnTrial();
    expect(await rollBackIn(paths)).toBe("0.3.2");
    expect(await readVersionName(paths.current)).toBe("0.3.2");
    expect(await readTrial(paths)).toBeNull();
    expect([...(await readRolledBack(paths))]).toEqual(["0.3.3"]);
    const [entry] = await listEntries({ dir: paths.spool, rejectedDir: paths.rejected, log: () => undefined });
    expect(TelemetryEventSchema.parse(entry!.event)).toMatchObject({
      type: "update_rolled_back",
      node_version: "0.3.2",
      details: { stage: "rolled_back", version: "0.3.3", rolled_back_to: "0.3.2" },
      entries: [
        "[2026-11-28T13:00:00.200Z] UNCAUGHT: Error: 0.3.3 cannot start",
        "    at start (file://~/.buhdi-node/versions/0.3.3/buhdi-node.mjs:9:9)",
        "[2026-11-28T13:00:00.300Z] EXIT code=1 signal=null after 0.3 s",
      ],
    });
  });

  it("done twice (killed in between, then again) is one report for the cloud and the same state", async () => {
    const paths = await homeOnTrial();
    await rollBackIn(paths);
    await writeFile(paths.current, "0.3.3\n"); // as if killed before the switch
    await writeTrial(paths, { version: "0.3.3", installed_at: "2026-11-28T12:59:59.000Z" });
    await rollBackIn(paths);
    const entries = await listEntries({ dir: paths.spool, rejectedDir: paths.rejected, log: () => undefined });
    expect(new Set(entries.map((e) => e.event.event_id)).size).toBe(1);
    expect([...(await readRolledBack(paths))]).toEqual(["0.3.3"]);
    expect(await readVersionName(paths.current)).toBe("0.3.2");
  });

  it("with no previous, goes back to the agent the supervisor was started from (no `current`)", async () => {
    const paths = await homeOnTrial();
    await writeFile(paths.previous, "");
    expect(await rollBackIn(paths)).toBe("0.3.0");
    await expect(readFile(paths.current)).rejects.toThrow(/ENOENT/);
  });
});

describe("linesSince", () => {
  it("takes whole records stamped at or after the start, stack lines included, nothing older", () => {
    expect(linesSince(Buffer.from(CRASH_LOG), STARTED)).toEqual(CRASH_LOG.split("\n").slice(3, 6));
  });

  it("finds nothing when the only records are older (rotation moved the rest away)", () => {
    expect(linesSince(Buffer.from(CRASH_LOG.split("\n").slice(0, 3).join("\n")), STARTED)).toEqual([]);
  });
});
