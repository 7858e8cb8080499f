/**
 * Crash reporting end to end against the real cloud (a local edge: wrangler dev with a fresh D1):
 * a node enrolls, crashes on a port in use, restarts, reports, rotates; outages lose nothing
 * and a report lands exactly once however often it is retried.
 */
import type { ChildProcess } from "node:child_process";
import { copyFile, mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { createServer, connect } from "node:net";
import type { Server } from "node:net";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { TelemetryEvent } from "../../../protocol/index.ts";
import { telemetrySender } from "../../../agent/outbox/telemetry-client.ts";
import { pointAt, startEdge } from "../../support/edge.ts";
import type { Edge } from "../../support/edge.ts";
import { closedPortUrl, collect, holdPort, runCli, spawnCli, tempHome, waitForOutput } from "../../support/helpers.ts";
import { eventually } from "../../support/live-node.ts";

let edge: Edge;
beforeAll(async () => {
  edge = await startEdge();
});
afterAll(async () => {
  await edge?.stop();
});

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function track(child: ChildProcess): ChildProcess {
  cleanups.push(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  return child;
}

/** Makes the node program (alone, no supervisor to restart it) crash the way the zombie did: its port is taken. */
async function crashOnce(home: string, env: Record<string, string> = {}): Promise<string> {
  const held = await holdPort();
  try {
    const result = await runCli(["node"], { BUHDI_NODE_HOME: home, BUHDI_NODE_PORT: String(held.port), ...env });
    expect(result.code).toBe(1);
  } finally {
    await held.close();
  }
  return readFile(path.join(home, "crash.log"), "utf8");
}

async function spoolFiles(home: string): Promise<string[]> {
  const names = await readdir(path.join(home, "spool")).catch(() => []);
  return names.filter((name) => name.endsWith(".json"));
}

async function readOrNull(file: string): Promise<string | null> {
  return readFile(file, "utf8").catch(() => null);
}

describe("enrollment against the real cloud", () => {
  it("stores the node id and server in config.json and the key in node.key, readable only by the owner", async () => {
    const { home, nodeId } = await edge.enrolledHome();
    const config = JSON.parse(await readFile(path.join(home, "config.json"), "utf8")) as Record<string, unknown>;
    expect(config).toEqual({ server: edge.url, node_id: nodeId });
    const key = (await readFile(path.join(home, "node.key"), "utf8")).trim();
    expect(key.length).toBeGreaterThanOrEqual(40);
    if (process.platform !== "win32") expect((await stat(path.join(home, "node.key"))).mode & 0o777).toBe(0o600);
  });

  it("a code used twice is refused the second time with the server's words and exit 1", async () => {
    const code = await edge.newCode();
    const first = await runCli(["enroll", code, "--server", edge.url], { BUHDI_NODE_HOME: await tempHome() });
    expect(first.code).toBe(0);
    const secondHome = await tempHome();
    const second = await runCli(["enroll", code, "--server", edge.url], { BUHDI_NODE_HOME: secondHome });
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/^Enrollment failed: .*already used.*new one/);
    expect(await readdir(secondHome)).toEqual([]);
  });

  it("an unknown code is refused with 404's message", async () => {
    const result = await runCli(["enroll", "ZZZZ-ZZZZ-ZZZZ-ZZZZ", "--server", edge.url], { BUHDI_NODE_HOME: await tempHome() });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^Enrollment failed: .*does not exist/);
  });
});

describe("crash → restart → report → rotation", () => {
  it("the restarted node reports the EADDRINUSE crash once, then rotates crash.log and keeps running", async () => {
    const { home, nodeId } = await edge.enrolledHome();
    const record = await crashOnce(home);
    expect(record).toContain("UNCAUGHT: Error: listen EADDRINUSE");

    const child = track(spawnCli(["run"], { BUHDI_NODE_HOME: home, BUHDI_NODE_PORT: "0" }));
    const exited = collect(child);
    // Reporting happens before the program listens, so "listening" means the report is done.
    await waitForOutput(child, "listening on");

    const rows = await edge.telemetryOf(nodeId);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ type: "crash_report", severity: "critical", node_version: "0.3.0" });
    expect(rows[0]?.payload.entries?.join("\n")).toContain("EADDRINUSE");
    expect(rows[0]?.payload.entries?.at(-1)).toBe("EXIT code=1");
    expect(await readOrNull(path.join(home, "crash.log"))).toBe("");
    expect(await readFile(path.join(home, "crash.log.prev"), "utf8")).toBe(record);
    expect(await spoolFiles(home)).toEqual([]);

    child.kill("SIGTERM");
    expect((await exited).code).toBe(0);
  });

  it("what reaches the cloud has the home directory replaced by ~", async () => {
    const fakeHome = path.join(await tempHome(), "Users", "nana");
    const { home, nodeId } = await edge.enrolledHome();
    await writeFile(
      path.join(home, "crash.log"),
      `[2026-11-28T13:00:00.000Z] UNCAUGHT: Error: ENOENT: no such file, open '${fakeHome}/Documents/notes.txt'\n` +
        `    at Object.openSync (${fakeHome}/buhdi/dist/index.js:12:3)\nEXIT code=1\n`,
    );

    const result = await runCli(["report"], { BUHDI_NODE_HOME: home, HOME: fakeHome, USERPROFILE: fakeHome });

    expect(result.code).toBe(0);
    const [row] = await edge.telemetryOf(nodeId);
    expect(row?.payload.entries).toEqual([
      "[2026-11-28T13:00:00.000Z] UNCAUGHT: Error: ENOENT: no such file, open '~/Documents/notes.txt'",
      "    at Object.openSync (~/buhdi/dist/index.js:12:3)",
      "EXIT code=1",
    ]);
  });
});

describe("outages lose nothing and deliver exactly once", () => {
  it("a failed upload keeps crash.log and the spool entry; a later run delivers it once, and replaying the entry adds nothing", async () => {
    const { home, nodeId } = await edge.enrolledHome();
    const record = await crashOnce(home);
    const restore = await pointAt(home, await closedPortUrl());

    const failed = await runCli(["report"], { BUHDI_NODE_HOME: home });
    expect(failed.code).toBe(1);
    expect(await readFile(path.join(home, "crash.log"), "utf8")).toBe(record);
    const [pending] = await spoolFiles(home);
    expect(pending).toBeDefined();
    const pendingEntry = JSON.parse(await readFile(path.join(home, "spool", pending!), "utf8")) as {
      event: TelemetryEvent;
      attempts: number;
    };
    expect(pendingEntry.attempts).toBe(1);
    expect(await edge.telemetryOf(nodeId)).toEqual([]);
    // Keep a copy, as if the process were killed after the cloud stored it but before the entry was deleted.
    const replay = path.join(await tempHome(), pending!);
    await copyFile(path.join(home, "spool", pending!), replay);

    await restore();
    const delivered = await runCli(["report"], { BUHDI_NODE_HOME: home });
    expect(delivered.code).toBe(0);
    expect(delivered.stdout).toContain("Delivered 1");
    expect(await readOrNull(path.join(home, "crash.log"))).toBe("");
    expect(await readFile(path.join(home, "crash.log.prev"), "utf8")).toBe(record);

    for (let i = 0; i < 2; i++) {
      await mkdir(path.join(home, "spool"), { recursive: true });
      await copyFile(replay, path.join(home, "spool", pending!));
      const again = await runCli(["report"], { BUHDI_NODE_HOME: home });
      expect(again.code).toBe(0);
      expect(await spoolFiles(home)).toEqual([]);
    }

    const rows = await edge.telemetryOf(nodeId);
    expect(rows).toHaveLength(1);
    expect(rows[0]?.payload.event_id).toBe(pendingEntry.event.event_id);
    // The replays found crash.log already rotated and left both files alone.
    expect(await readOrNull(path.join(home, "crash.log"))).toBe("");
    expect(await readFile(path.join(home, "crash.log.prev"), "utf8")).toBe(record);
  });

  it("a crash appended while a report was pending is reported next, each line once", async () => {
    const { home, nodeId } = await edge.enrolledHome();
    const first = await crashOnce(home);
    const restore = await pointAt(home, await closedPortUrl());
    await runCli(["report"], { BUHDI_NODE_HOME: home }); // fails: the first report is now pending
    const both = await crashOnce(home); // that run's report also failed; a second crash is appended
    expect(both.startsWith(first)).toBe(true);
    expect(await spoolFiles(home)).toHaveLength(1);

    await restore();
    const result = await runCli(["report"], { BUHDI_NODE_HOME: home });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("Delivered 2");

    const rows = await edge.telemetryOf(nodeId);
    expect(rows).toHaveLength(2);
    const exits = rows.flatMap((row) => row.payload.entries ?? []).filter((line) => line === "EXIT code=1");
    expect(exits).toHaveLength(2);
    expect(await readOrNull(path.join(home, "crash.log"))).toBe("");
    expect(await readFile(path.join(home, "crash.log.prev"), "utf8")).toBe(both.slice(first.length));
  });

  it("a running node delivers from its retry timer once the cloud is reachable again", async () => {
    const { home, nodeId } = await edge.enrolledHome();
    await crashOnce(home);
    const outage = await closedPortUrl();
    const restore = await pointAt(home, outage);
    cleanups.push(restore);

    const child = track(spawnCli(["run"], { BUHDI_NODE_HOME: home, BUHDI_NODE_PORT: "0", BUHDI_NODE_RETRY_TICK_MS: "200" }));
    const exited = collect(child);
    await waitForOutput(child, "listening on");
    expect(await spoolFiles(home)).toHaveLength(1);

    // The cloud comes back at the address the node knows (a TCP relay to the real edge).
    const relay = await relayTo(Number(new URL(outage).port), Number(new URL(edge.url).port));
    cleanups.push(() => new Promise<void>((resolve) => relay.close(() => resolve())));

    const rows = await eventually(
      () => edge.telemetryOf(nodeId),
      (r) => r.length > 0,
    );
    expect(rows).toHaveLength(1);
    expect(
      await eventually(
        () => spoolFiles(home),
        (files) => files.length === 0,
      ),
    ).toEqual([]);
    expect(await readOrNull(path.join(home, "crash.log"))).toBe("");

    child.kill("SIGTERM");
    expect((await exited).code).toBe(0);
    expect(await edge.telemetryOf(nodeId)).toHaveLength(1);
  });

  it("an unknown node key (401) is kept for a retry, not thrown away", async () => {
    const { home, nodeId } = await edge.enrolledHome();
    await crashOnce(home);
    await writeFile(path.join(home, "node.key"), `bnk.${nodeId}.not-the-real-secret-0123456789\n`);

    const result = await runCli(["report"], { BUHDI_NODE_HOME: home });

    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/401: The node key is not valid/);
    expect(await spoolFiles(home)).toHaveLength(1);
    expect(await readdir(path.join(home, "spool", "rejected")).catch(() => [])).toEqual([]);
  });
});

describe("the cloud's answers as the client reads them", () => {
  it("202 the first time, 200 for the same event_id again: both count as delivered, stored once", async () => {
    const { home, nodeId } = await edge.enrolledHome();
    const key = (await readFile(path.join(home, "node.key"), "utf8")).trim();
    const send = telemetrySender({ server: edge.url, key });
    const event: TelemetryEvent = {
      event_id: crypto.randomUUID(),
      type: "connection_degraded",
      entries: [],
      node_version: "0.3.0",
      os: process.platform,
      arch: process.arch,
      uptime_before_crash: null,
      timestamp: new Date().toISOString(),
      details: { failure_count: 5 },
    };
    const first = await send(event);
    const second = await send(event);
    expect(first).toMatchObject({ kind: "delivered", duplicate: false, severity: "warning" });
    expect(second).toMatchObject({ kind: "delivered", duplicate: true, severity: "warning" });
    expect(first.kind === "delivered" && second.kind === "delivered" && first.id === second.id).toBe(true);
    expect(await edge.telemetryOf(nodeId)).toHaveLength(1);
  });
});

function relayTo(listenPort: number, targetPort: number): Promise<Server> {
  const server = createServer((socket) => {
    const upstream = connect(targetPort, "127.0.0.1");
    socket.pipe(upstream).pipe(socket);
    socket.on("error", () => upstream.destroy());
    upstream.on("error", () => socket.destroy());
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(listenPort, "127.0.0.1", () => resolve(server));
  });
}
