/** The node program as a real process: its health endpoint and a clean stop on a signal. */
import { afterEach, describe, expect, it } from "vitest";
import type { ChildProcess } from "node:child_process";
import { closedPortUrl, collect, fakeEnrolledHome, spawnCli, waitForOutput } from "../../support/helpers.ts";

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
});

async function startNode(extraEnv: Record<string, string> = {}) {
  const home = await fakeEnrolledHome(await closedPortUrl());
  const child = spawnCli(["run"], { BUHDI_NODE_HOME: home, BUHDI_NODE_PORT: "0", ...extraEnv });
  children.push(child);
  const exited = collect(child);
  const output = await waitForOutput(child, /listening on (http:\/\/127\.0\.0\.1:\d+)/);
  const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1] ?? "";
  return { child, exited, url };
}

describe("node program", () => {
  it("GET /health answers the node id, the version and the uptime", async () => {
    const { url, child } = await startNode({ BUHDI_NODE_VERSION: "0.3.1-fixture" });
    const response = await fetch(`${url}/health`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toEqual({
      node_id: "8a0c6a56-52a3-4f39-9e9b-0b6c1c4f6f34",
      version: "0.3.1-fixture",
      uptime_s: expect.any(Number),
      pid: expect.any(Number),
      connection: { state: expect.any(String), connected: false, ws_failure_count: expect.any(Number) },
    });
    expect(body.uptime_s).toBeGreaterThanOrEqual(0);
    // The node program's own pid: under `run` that is the supervisor's child, not the supervisor.
    expect(body.pid).not.toBe(child.pid);
  });

  it("listens on loopback only and answers 404 elsewhere", async () => {
    const { url } = await startNode();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:/);
    expect((await fetch(`${url}/nope`)).status).toBe(404);
    expect((await fetch(`${url}/health`, { method: "POST" })).status).toBe(405);
    expect((await fetch(`${url}/sleep`)).status).toBe(405);
  });

  it("POST /sleep without a cloud connection answers 503: there is no one to tell", async () => {
    const { url } = await startNode();
    const response = await fetch(`${url}/sleep`, { method: "POST" });
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ error: { code: "not_connected" } });
  });

  it("POST /sleep from a web page (an Origin header) is refused: a site must not put the node to sleep", async () => {
    const { url } = await startNode();
    const response = await fetch(`${url}/sleep`, { method: "POST", headers: { origin: "https://evil.example" } });
    expect(response.status).toBe(403);
  });

  it.each(["SIGTERM", "SIGINT"] as const)("%s stops the node with exit code 0", async (signal) => {
    const { child, exited } = await startNode();
    child.kill(signal);
    const result = await exited;
    expect(result.code).toBe(0);
  });
});
