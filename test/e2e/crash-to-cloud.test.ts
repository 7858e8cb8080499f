/**
 * The P0 scenario end to end, with nothing simulated: a real "zombie" process
 * holds the node's port, the real agent (supervisor + node program) dies of a
 * real EADDRINUSE, the supervisor starts it again, and once the port is free
 * the crash report reaches the real edge and is found through the dashboard API.
 */
import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Edge, startEdge } from "../support/edge.ts";
import { NODE_BIN } from "../support/helpers.ts";
import { eventually, FAST_EDGE_VARS, liveNodes } from "../support/live-node.ts";
import { freePort } from "../../scripts/local-edge.ts";

/** Another process holding 127.0.0.1:port, like the zombie node. */
async function zombie(port: number) {
  const child = spawn(NODE_BIN, ["-e", `require("node:net").createServer().listen(${port}, "127.0.0.1", () => console.log("holding"))`], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  await new Promise<void>((resolve) => child.stdout!.once("data", () => resolve()));
  return {
    pid: child.pid!,
    kill: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGKILL");
      }),
  };
}

describe("crash → restart → report → found in the cloud", () => {
  let edge: Edge;
  const nodes = liveNodes();

  beforeAll(async () => {
    edge = await startEdge({ vars: FAST_EDGE_VARS });
  });
  afterAll(async () => {
    await nodes.stopAll();
    await edge?.stop();
  });

  it("a node killed by a real EADDRINUSE is restarted, its crash report reaches the cloud, and it runs once the port is free", {
    timeout: 120_000,
  }, async () => {
    const { home, nodeId } = await edge.enrolledHome();
    const port = await freePort();
    const holder = await zombie(port);
    const node = await nodes.start(home, { BUHDI_NODE_PORT: String(port) }, false);
    try {
      const crashLog = path.join(home, "crash.log");
      // The supervisor keeps restarting the program, which keeps dying (each death is logged): wait for two.
      const log = await eventually(
        () => node.stderr(),
        (text) => (text.match(/EXIT code=1/g) ?? []).length >= 2,
      );
      expect(log).toMatch(/UNCAUGHT: Error: listen EADDRINUSE: address already in use 127\.0\.0\.1:\d+/);
      expect(log).toMatch(/starting it again/);

      await holder.kill();
      const reports = await eventually(
        async () => (await edge.telemetryOf(nodeId)).filter((row) => row.type === "crash_report"),
        (rows) => rows.some((row) => row.payload.entries?.some((line) => line.includes("EADDRINUSE"))),
        30_000,
      );
      const report = reports.find((row) => row.payload.entries?.some((line) => line.includes("EADDRINUSE")))!;
      expect(report).toMatchObject({ severity: "critical", node_id: nodeId, resolved: false });
      expect(report.payload.entries!.some((line) => line.includes(home))).toBe(false);
      // Rotated only after the edge accepted it.
      const prev = await eventually(
        () => readFile(`${crashLog}.prev`, "utf8").catch(() => ""),
        (text) => text.includes("EADDRINUSE"),
      );
      expect(prev).toContain("EADDRINUSE");
      // And with the port free, the node runs.
      const health = await eventually(
        () => node.health().catch(() => null),
        (h) => h !== null,
        30_000,
      );
      expect(health?.pid).toBeGreaterThan(0);
    } finally {
      await holder.kill();
      await node.killHard();
    }
  });
});
