/**
 * What a node's Durable Object logs: every status change, and routine heartbeats only by
 * sampling (the automatic line per invocation is off in wrangler.toml).
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { sampled } from "../../worker/node-session/activity-log.ts";
import { enrollNode } from "./helpers.ts";
import { connect, heartbeat } from "./live-helpers.ts";

/** A fixed sequence in [0, 1): the same draws on every run. */
function draws(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return x / 2 ** 31;
  };
}

describe("heartbeat log sampling", () => {
  it("logs none with 0 and every one with 1", () => {
    expect(sampled(0, () => 0)).toBe(false);
    expect([0, 0.5, 0.999].map((r) => sampled(1, () => r))).toEqual([true, true, true]);
  });

  it("logs about one in N", () => {
    const random = draws(7);
    let logged = 0;
    for (let i = 0; i < 120_000; i++) if (sampled(120, random)) logged += 1;
    expect(logged).toBeGreaterThan(800);
    expect(logged).toBeLessThan(1200);
  });
});

describe("a node's status changes", () => {
  afterEach(() => vi.restoreAllMocks());

  it("are logged once each; routine heartbeats log no status line", async () => {
    const lines: Array<Record<string, unknown>> = [];
    vi.spyOn(console, "log").mockImplementation((text: unknown) => {
      if (typeof text === "string" && text.startsWith("{")) lines.push(JSON.parse(text) as Record<string, unknown>);
    });
    const node = await enrollNode();
    const socket = await connect(node);
    for (let i = 0; i < 5; i++) {
      socket.send(heartbeat(node));
      await socket.next("heartbeat_ack");
    }
    socket.send(heartbeat(node, { version: "0.3.1" }));
    await socket.next("heartbeat_ack");
    const status = lines.filter((l) => l.msg === "node status" && l.node_id === node.node_id);
    expect(status.map((l) => [l.status, l.version])).toEqual([
      ["online", "0.3.0"],
      ["online", "0.3.1"],
    ]);
  });
});
