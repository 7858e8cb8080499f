/**
 * A test file's edges never outlive it: stopLocalEdges() (run after every Node test file, see
 * test/support/after-file.ts) stops an edge that is up, and one still starting, as when
 * a set-up hook timed out while waiting for it; and it removes the state dirs it made for them.
 */
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { afterEach, describe, expect, it } from "vitest";
import { allowLocalEdges, startLocalEdge, stopLocalEdges } from "../../../scripts/local-edge.ts";
import { eventually } from "../../support/live-node.ts";
import { tempDir } from "../../support/temp-dirs.ts";

/** Processes whose command line names this directory (wrangler and its workerd are given --persist-to). */
async function processesUsing(dir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const name of await readdir("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const cmdline = await readFile(`/proc/${name}/cmdline`, "utf8").catch(() => "");
    if (cmdline.includes(dir)) pids.push(Number(name));
  }
  return pids;
}

/** The whole process group was signalled; workerd may take a moment longer than wrangler to go. */
async function noProcessUsing(dir: string): Promise<void> {
  await eventually(
    () => processesUsing(dir),
    (pids) => pids.length === 0,
    10_000,
    `every process using ${dir} to exit`,
  );
}

afterEach(() => allowLocalEdges());

describe("local edges left by a test file", () => {
  it("an edge still starting when its file ends is stopped, leaves no process behind, and keeps the state dir it was given", async () => {
    const persistDir = await tempDir("buhdi-leftover-");
    const starting = startLocalEdge({ persistDir });
    // The file ends (its hook timed out) before the edge has come up.
    await stopLocalEdges();
    await expect(starting).rejects.toThrow(/exited before serving/);
    await noProcessUsing(persistDir);
    expect(existsSync(persistDir)).toBe(true);
  }, 120_000);

  it("an edge that is up and never stopped by its test is stopped too, and the state dir made for it removed", async () => {
    const edge = await startLocalEdge();
    expect((await fetch(`${edge.url}/api/health`)).status).toBe(200);
    expect(await processesUsing(edge.persistDir)).not.toEqual([]);
    await stopLocalEdges();
    await noProcessUsing(edge.persistDir);
    expect(existsSync(edge.persistDir)).toBe(false);
  }, 120_000);
});
