/**
 * The zombie fix (agent/program/local-port.ts) with real processes: a hung node program left over from
 * an earlier run holds the port; the next program takes the port back. One that still answers
 * is left alone, and the new program dies of EADDRINUSE as before.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import type { ChildProcess } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { freePort } from "../../../scripts/local-edge.ts";
import { closedPortUrl, collect, fakeEnrolledHome, spawnCli, waitForOutput } from "../../support/helpers.ts";
import { eventually } from "../../support/live-node.ts";

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    child.kill("SIGCONT");
    child.kill("SIGKILL");
  }
});

function start(args: string[], env: Record<string, string>): ChildProcess {
  const child = spawnCli(args, env);
  children.push(child);
  return child;
}

async function endpointPid(home: string): Promise<number | null> {
  try {
    return (JSON.parse(await readFile(path.join(home, "endpoint.json"), "utf8")) as { pid: number }).pid;
  } catch {
    return null;
  }
}

async function leftoverOnPort() {
  const home = await fakeEnrolledHome(await closedPortUrl());
  const env = { BUHDI_NODE_HOME: home, BUHDI_NODE_PORT: String(await freePort()) };
  const leftover = start(["node"], env);
  const exited = collect(leftover, 60_000);
  await waitForOutput(leftover, "listening on");
  // endpoint.json is written right after listening; the holder's pid is what the next program reads.
  expect(
    await eventually(
      () => endpointPid(home),
      (pid) => pid === leftover.pid,
    ),
  ).toBe(leftover.pid);
  return { home, env, leftover, exited };
}

describe("a port held by a leftover node program", () => {
  it("a hung leftover of this node is stopped and the new program listens on the port", async () => {
    const { env, leftover, exited } = await leftoverOnPort();
    leftover.kill("SIGSTOP"); // hung: holds the port, answers nothing

    const node = start(["node"], env);
    const output = await waitForOutput(node, "listening on", 30_000);
    expect(output).toContain(`127.0.0.1:${env.BUHDI_NODE_PORT}`);
    expect((await exited).signal).toBe("SIGKILL");
    const health = (await (await fetch(`http://127.0.0.1:${env.BUHDI_NODE_PORT}/health`)).json()) as { pid: number };
    expect(health.pid).toBe(node.pid);
  });

  it("a leftover that still answers is left alone: the new program dies of EADDRINUSE, recorded in crash.log", async () => {
    const { home, env, leftover } = await leftoverOnPort();
    const result = await collect(start(["node"], env), 30_000);
    expect(result.code).toBe(1);
    expect(await readFile(path.join(home, "crash.log"), "utf8")).toContain("EADDRINUSE");
    expect(leftover.exitCode).toBeNull();
    expect(leftover.signalCode).toBeNull();
  });
});
