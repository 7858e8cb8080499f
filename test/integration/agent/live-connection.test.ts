/**
 * The live connection against the real cloud (a local edge with 1 s heartbeats and a 3 s
 * offline grace): heartbeats reach it, a clean stop or a sleep is "asleep" and not an outage, a
 * node frozen past the grace (SIGSTOP, as in a sleep nobody announced; alone, after the
 * concurrent suite) comes back by itself and its outage is shown as sleep,
 * commands are carried out once, the HTTP fallback keeps a node that cannot open its socket
 * visible as degraded, and a crash loop arrives as one report with its count. Independent
 * nodes, so those tests run concurrently on one edge. Then, alone (vitest starts a sequential
 * suite only after the concurrent one has finished), a real outage: the edge goes away and
 * comes back on the same address with the same state.
 */
import { readFile, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WS_FAILURE_THRESHOLD } from "../../../protocol/index.ts";
import { openCommandStore } from "../../../agent/commands/store.ts";
import { pointAt, startEdge } from "../../support/edge.ts";
import type { Edge } from "../../support/edge.ts";
import { holdPort } from "../../support/helpers.ts";
import { FAST_EDGE_VARS, eventually, liveNodes, sleep } from "../../support/live-node.ts";

let edge: Edge;
const nodes = liveNodes();
const closers: Array<() => Promise<void>> = [];
beforeAll(async () => {
  edge = await startEdge({ vars: FAST_EDGE_VARS });
});
afterAll(async () => {
  await nodes.stopAll();
  await Promise.all(closers.map((close) => close()));
  await edge?.stop();
});

describe.concurrent("a running node and the cloud", () => {
  it("its heartbeats reach the cloud: version, uptime, memory and error count show on GET /api/nodes/:id", async ({ expect }) => {
    const { home, nodeId } = await edge.enrolledHome();
    const node = await nodes.start(home, { BUHDI_NODE_VERSION: "0.3.9-live" });

    const first = await eventually(
      () => edge.nodeView(nodeId),
      (v) => v.connected && v.version === "0.3.9-live",
    );
    expect(first).toMatchObject({ status: "online", connected: true, version: "0.3.9-live", error_count: 0, ws_failure_count: 0 });
    expect(first.memory_mb).toBeGreaterThan(10);
    expect(first.memory_mb).toBeLessThan(4096);
    // Uptime keeps counting: every beat carries the current value.
    const later = await eventually(
      () => edge.nodeView(nodeId),
      (v) => (v.uptime_s ?? 0) >= (first.uptime_s ?? 0) + 2,
    );
    expect(later.uptime_s).toBeGreaterThanOrEqual((first.uptime_s ?? 0) + 2);
    expect((await node.health()).connection).toEqual({ state: "connected", connected: true, ws_failure_count: 0 });

    node.supervisor.kill("SIGTERM");
    expect((await node.exited).code).toBe(0);
  });

  it("SIGTERM says going_away first: the node shows as asleep, never offline, while one that just vanishes goes offline", async ({
    expect,
  }) => {
    const polite = await edge.enrolledHome();
    const vanished = await edge.enrolledHome();
    const a = await nodes.start(polite.home);
    const b = await nodes.start(vanished.home);
    await eventually(
      () => Promise.all([edge.nodeView(polite.nodeId), edge.nodeView(vanished.nodeId)]),
      (vs) => vs.every((v) => v.connected),
    );

    a.supervisor.kill("SIGTERM");
    await b.killHard();
    expect((await a.exited).code).toBe(0);
    // The control: the same silence without going_away is an outage once the 3 s grace is over.
    const gone = await eventually(
      () => edge.telemetryOf(vanished.nodeId),
      (rows) => rows.some((row) => row.type === "node_offline"),
    );
    expect(gone.map((row) => row.type)).toContain("node_offline");
    expect((await edge.nodeView(vanished.nodeId)).status).toBe("offline");
    // An absence can only be checked over time: the polite node has been silent at least as long
    // as the vanished one plus a second. Checked too early this could only pass, never fail falsely.
    await sleep(1_000);

    expect(await edge.nodeView(polite.nodeId)).toMatchObject({ status: "asleep", connected: false });
    expect((await edge.telemetryOf(polite.nodeId)).map((row) => row.type)).not.toContain("node_offline");
    // Two node starts and two waits of up to 30 s each: more than the default minute on a loaded machine.
  }, 120_000);

  it("POST /sleep on the local port says going_away sleep: asleep, and no heartbeat undoes it before the OS suspends", async ({
    expect,
  }) => {
    const { home, nodeId } = await edge.enrolledHome();
    const node = await nodes.start(home);
    await eventually(
      () => edge.nodeView(nodeId),
      (v) => v.connected && v.status === "online",
    );

    const response = await fetch(`${node.url()}/sleep`, { method: "POST" });
    expect(response.status).toBe(202);
    expect(await response.json()).toEqual({ going_away: "sleep", sent: true });
    await sleep(3_000); // three heartbeat intervals: an absence, only checkable over time
    expect((await edge.nodeView(nodeId)).status).toBe("asleep");

    node.supervisor.kill("SIGTERM");
    await node.exited;
  });

  it("a CONFIG_CHANGE is applied once and acked; a redelivered command is re-acked from the node's record, not run again", async ({
    expect,
  }) => {
    const { home, nodeId } = await edge.enrolledHome();
    const overrides = path.join(home, "config-overrides.json");
    const node = await nodes.start(home);
    await eventually(
      () => edge.nodeView(nodeId),
      (v) => v.connected,
    );

    const queued = await edge.admin(`/api/admin/nodes/${nodeId}/commands`, { type: "CONFIG_CHANGE", payload: { log_level: "debug" } });
    expect(queued.status).toBe(202);
    const first = (queued.body as { id: string }).id;
    const acked = await eventually(
      () => edge.commandsOf(nodeId),
      (cs) => cs.some((c) => c.id === first && c.ack !== null),
    );
    expect(acked.find((c) => c.id === first)?.ack).toMatchObject({ status: "done" });
    expect(JSON.parse(await readFile(overrides, "utf8"))).toEqual({ log_level: "debug" });

    // The node stops. A second command is queued meanwhile, and the node's record says it was
    // already carried out (a previous run applied it and died before its ack went out).
    node.supervisor.kill("SIGTERM");
    await node.exited;
    const second = (
      (await edge.admin(`/api/admin/nodes/${nodeId}/commands`, { type: "CONFIG_CHANGE", payload: { log_level: "trace" } })).body as {
        id: string;
      }
    ).id;
    const store = await openCommandStore(path.join(home, "commands-handled.json"), () => undefined);
    await store.record({ id: second, status: "done", detail: "applied by the run that died", at: new Date().toISOString() });
    await writeFile(overrides, JSON.stringify({ log_level: "set-by-hand" }));

    const again = await nodes.start(home);
    const commands = await eventually(
      () => edge.commandsOf(nodeId),
      (cs) => cs.some((c) => c.id === second && c.ack !== null),
    );
    expect(commands.find((c) => c.id === second)).toMatchObject({
      send_count: 1,
      ack: { status: "done", detail: "applied by the run that died" },
    });
    // Neither command ran again: the hand-set value is still there.
    expect(JSON.parse(await readFile(overrides, "utf8"))).toEqual({ log_level: "set-by-hand" });
    expect(commands.find((c) => c.id === first)?.send_count).toBe(1);

    again.supervisor.kill("SIGTERM");
    await again.exited;
  });

  it("a SOFTWARE_UPDATE that is not a signed release is refused (failed, with why) and the node runs on", async ({ expect }) => {
    const { home, nodeId } = await edge.enrolledHome();
    const node = await nodes.start(home);
    await eventually(
      () => edge.nodeView(nodeId),
      (v) => v.connected,
    );
    const id = (
      (await edge.admin(`/api/admin/nodes/${nodeId}/commands`, { type: "SOFTWARE_UPDATE", payload: { version: "0.3.1" } })).body as {
        id: string;
      }
    ).id;
    const commands = await eventually(
      () => edge.commandsOf(nodeId),
      (cs) => cs.some((c) => c.id === id && c.ack !== null),
    );
    expect(commands.find((c) => c.id === id)?.ack).toMatchObject({
      status: "failed",
      detail: expect.stringMatching(/^the update is not a signed release \(manifest: /),
    });
    expect((await edge.nodeView(nodeId)).connected).toBe(true);
    node.supervisor.kill("SIGTERM");
    await node.exited;
  });

  it("a node that cannot open its socket heartbeats over HTTP (degraded, not offline) and reports connection_degraded once", async ({
    expect,
  }) => {
    const { home, nodeId } = await edge.enrolledHome();
    const proxy = await upgradeRefusingProxy(edge.url);
    closers.push(proxy.close);
    await pointAt(home, proxy.url);
    // It never gets a welcome frame to learn the edge's 1 s interval from.
    const node = await nodes.start(home, { BUHDI_NODE_HEARTBEAT_MS: "1000" });

    const view = await eventually(
      () => edge.nodeView(nodeId),
      (v) => v.status === "degraded",
    );
    expect(view).toMatchObject({ status: "degraded", connected: false });
    expect(view.ws_failure_count).toBeGreaterThanOrEqual(1);
    const rows = await eventually(
      () => edge.telemetryOf(nodeId),
      (r) => r.some((row) => row.type === "connection_degraded"),
    );
    // Many more failed connects after the report: still one report.
    const failuresAtReport = (await node.health()).connection.ws_failure_count;
    await eventually(
      () => node.health(),
      (h) => h.connection.ws_failure_count >= failuresAtReport + 3,
      20_000,
      "three more refused upgrades",
    );
    const degraded = (await edge.telemetryOf(nodeId)).filter((row) => row.type === "connection_degraded");
    expect(degraded).toHaveLength(1);
    expect(degraded[0]).toMatchObject({ severity: "warning", payload: { details: { failure_count: 5, last_connected: null } } });
    expect(rows.map((row) => row.type)).not.toContain("node_offline");
    expect((await node.health()).connection.state).toBe("degraded");

    node.supervisor.kill("SIGTERM");
    await node.exited;
  });

  it("a crash loop is reported as one report with its count, not one per crash; the end of the loop sends what was held", async ({
    expect,
  }) => {
    const { home, nodeId } = await edge.enrolledHome();
    const held = await holdPort(); // every node program dies of EADDRINUSE
    closers.push(held.close);
    const node = await nodes.start(
      home,
      {
        BUHDI_NODE_PORT: String(held.port),
        BUHDI_NODE_RESTART_BASE_MS: "50",
        // Wide enough that three crashes fall in it even on a loaded machine: a start takes ~1 s
        // idle, and was seen taking 5 s with both cores busy (a 6 s window then saw no loop).
        BUHDI_NODE_CRASH_LOOP_WINDOW_MS: "20000",
      },
      false,
    );
    const crashReports = async () =>
      (await edge.telemetryOf(nodeId))
        .filter((row) => row.type === "crash_report")
        .sort((a, b) => a.created_at.localeCompare(b.created_at));
    const deaths = () => (node.stderr().match(/exited with code 1 after/g) ?? []).length;

    // Two crashes are reported one by one; the third makes it a loop, reported with its count.
    const early = await eventually(
      crashReports,
      (rows) => rows.some((row) => row.payload.details !== undefined),
      60_000,
      "the crash-loop report",
    );
    expect(early.map((row) => row.payload.details?.crash_loop ?? null)).toEqual([null, null, "ongoing"]);
    expect(early[2]?.payload.details).toMatchObject({ crash_count: 3 });
    // It keeps crashing: those are held, not sent.
    await eventually(deaths, (n) => n >= 6, 60_000, "six deaths of the node program");
    expect(await crashReports()).toHaveLength(3);

    // The port comes free; the next program stays up a whole window: the loop is over and what
    // was held goes out as one report.
    await held.close();
    // The loop ends once a program stayed up a whole window (20 s).
    const rows = await eventually(
      crashReports,
      (r) => r.some((row) => row.payload.details?.crash_loop === "ended"),
      60_000,
      "the report that ends the loop",
    );
    expect(rows.map((row) => row.payload.details?.crash_loop ?? null)).toEqual([null, null, "ongoing", "ended"]);
    const ended = rows[3]!;
    expect(ended.payload.details).toMatchObject({ crash_count: deaths() });
    expect(ended.payload.details?.first_crash_at).toBe(rows[2]?.payload.details?.first_crash_at);
    const entries = ended.payload.entries ?? [];
    // The held crashes are in it, newest last (as many as fit in 50 lines: ~7 lines per crash).
    const exits = entries.filter((line) => / EXIT code=1 signal=null /.test(line)).length;
    expect(exits).toBeGreaterThanOrEqual(Math.min(deaths() - 3, 6));
    expect(exits).toBeLessThanOrEqual(deaths() - 3);
    expect(entries.at(-1)).toMatch(/ EXIT code=1 signal=null /);
    // The upload is acknowledged before crash.log is rotated: wait for the rotation, not a moment.
    const crashLog = () => readFile(path.join(home, "crash.log"), "utf8");
    expect(await eventually(crashLog, (text) => text === "", 10_000, "crash.log to be rotated after the upload")).toBe("");

    node.supervisor.kill("SIGTERM");
    await node.exited;
  }, 150_000);
});

// After the concurrent suite, alone: the freeze must last past the edge's grace however loaded
// the machine is, and a frozen node next to the concurrent ones would only slow them down.
describe("a computer that sleeps without saying so", () => {
  it("frozen past the offline grace (a computer asleep) and resumed: back online in seconds by itself, the gap shown as sleep, no crash", async () => {
    const { home, nodeId } = await edge.enrolledHome();
    // The wake detector on a test clock: a check every 200 ms, a wake when one is 1.5 s late.
    const node = await nodes.start(home, { BUHDI_NODE_WAKE_CHECK_MS: "200", BUHDI_NODE_WAKE_LATENESS_MS: "1500" });
    await eventually(
      () => edge.nodeView(nodeId),
      (v) => v.connected && v.status === "online",
    );
    const { pid: programPid } = await node.health();
    const supervisorPid = node.supervisor.pid!;
    const offlineBefore = (await edge.telemetryOf(nodeId)).filter((row) => row.type === "node_offline").length;

    // Sleep, as the processes live it: neither runs a single instruction, and nothing says going_away.
    // (Both pids, not the process group: the test's children share the test runner's group.)
    process.kill(supervisorPid, "SIGSTOP");
    process.kill(programPid, "SIGSTOP");
    try {
      // Its socket stays open: the node's page judges the silence as it is read (the alarm's
      // look at open sockets comes only every SILENCE_CHECK_SECONDS).
      await eventually(
        () => edge.nodeView(nodeId),
        (v) => v.status === "offline",
        30_000,
        "the node's page to show the frozen node offline (its grace is 3 s)",
      );
      await eventually(
        () => edge.telemetryOf(nodeId),
        (rows) => rows.filter((row) => row.type === "node_offline").length > offlineBefore,
        10_000,
        "the edge to count the frozen node offline",
      );
    } finally {
      process.kill(programPid, "SIGCONT");
      process.kill(supervisorPid, "SIGCONT");
    }
    await eventually(
      () => edge.nodeView(nodeId),
      (v) => v.connected && v.status === "online",
      15_000,
      `the node back online by itself after it resumed (its log: ${node.stderr()})`,
    );
    const rows = await eventually(
      () => edge.telemetryOf(nodeId),
      (all) => all.some((row) => row.type === "node_offline" && row.payload.details?.asleep === true),
      15_000,
      `the outage shown as sleep (node log: ${node.stderr()})`,
    );
    const offline = rows.find((row) => row.type === "node_offline" && row.payload.details?.asleep === true)!;
    expect(offline.severity).toBe("info");
    expect(rows.find((row) => row.type === "node_back_online")?.payload.details).toMatchObject({ asleep: true });
    expect(node.stderr()).toMatch(/this computer was asleep for about \d+ s; reconnecting/);
    // Not a crash: the same program runs on, and nothing was reported or written to crash.log.
    expect((await node.health()).pid).toBe(programPid);
    expect(rows.filter((row) => row.type === "crash_report")).toEqual([]);
    expect(await readFile(path.join(home, "crash.log"), "utf8").catch(() => "")).not.toContain("EXIT");

    node.supervisor.kill("SIGTERM");
    expect((await node.exited).code).toBe(0);
  });
});

// After the concurrent suite: taking the edge down would break any test running next to it.
describe("the cloud goes away and comes back", () => {
  it("the node reconnects by itself, and reports connection_degraded exactly once for the outage", async () => {
    const { home, nodeId } = await edge.enrolledHome();
    const node = await nodes.start(home);
    const before = await eventually(
      () => edge.nodeView(nodeId),
      (v) => v.connected,
    );
    expect(before).toMatchObject({ status: "online", connected: true });

    await edge.down();
    // Far more failed connects than the threshold, while nothing (not even HTTP) gets through.
    const during = await eventually(
      () => node.health(),
      (h) => h.connection.ws_failure_count > 2 * WS_FAILURE_THRESHOLD,
    );
    expect(during.connection).toMatchObject({ state: "degraded", connected: false });
    await edge.up();

    const after = await eventually(
      () => edge.nodeView(nodeId),
      (v) => v.connected && v.status === "online",
    );
    expect(after).toMatchObject({ status: "online", connected: true });
    expect((await node.health()).connection).toEqual({ state: "connected", connected: true, ws_failure_count: 0 });
    // The report waited in the spool through the outage and went out once the cloud was back.
    await eventually(
      () => edge.telemetryOf(nodeId),
      (rows) => rows.some((row) => row.type === "connection_degraded"),
    );
    // Spool retries and heartbeats keep going (two more seconds of uptime reach the cloud): still one.
    const reported = await edge.nodeView(nodeId);
    await eventually(
      () => edge.nodeView(nodeId),
      (v) => (v.uptime_s ?? 0) >= (reported.uptime_s ?? 0) + 2,
      20_000,
      "two more seconds of heartbeats",
    );
    const degraded = (await edge.telemetryOf(nodeId)).filter((row) => row.type === "connection_degraded");
    expect(degraded).toHaveLength(1);
    expect(degraded[0]?.payload.details).toEqual({ failure_count: WS_FAILURE_THRESHOLD, last_connected: expect.any(String) });
    const lastConnected = Date.parse(String(degraded[0]?.payload.details?.last_connected));
    expect(lastConnected).toBeLessThanOrEqual(Date.now());
    expect(lastConnected).toBeGreaterThanOrEqual(Date.parse(before.last_seen ?? "") - 5_000);

    node.supervisor.kill("SIGTERM");
    expect((await node.exited).code).toBe(0);
    // Stopping and starting the edge takes most of a minute on a loaded 2-core machine.
  }, 180_000);
});

/** Forwards plain HTTP to the edge but refuses every WebSocket upgrade with 503. */
async function upgradeRefusingProxy(target: string): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const headers: Record<string, string> = {};
      for (const name of ["x-node-key", "content-type", "authorization"]) {
        const value = request.headers[name];
        if (typeof value === "string") headers[name] = value;
      }
      fetch(`${target}${request.url ?? "/"}`, {
        method: request.method,
        headers,
        body: chunks.length > 0 ? Buffer.concat(chunks) : undefined,
      }).then(
        async (answer) => {
          const body = Buffer.from(await answer.arrayBuffer());
          const retryAfter = answer.headers.get("retry-after");
          response.writeHead(answer.status, {
            "content-type": answer.headers.get("content-type") ?? "application/json",
            ...(retryAfter ? { "retry-after": retryAfter } : {}),
          });
          response.end(body);
        },
        () => response.writeHead(502).end(),
      );
    });
  });
  server.on("upgrade", (_request, socket) => {
    socket.on("error", () => undefined); // a node that gives up on a refused upgrade resets it
    socket.end("HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
