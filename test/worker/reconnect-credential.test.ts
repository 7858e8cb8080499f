/**
 * The live socket's key is checked by the node's Durable Object, not by a D1 read per upgrade:
 * a fleet reconnecting after an edge restart costs D1 nothing. D1 stays the truth the object
 * learns it from, once; retirement (retire.test.ts) drops what the object kept.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { NodeSession } from "../../worker/node-session/node-session.ts";
import { call, type EnrolledNode, enrollNode } from "./helpers.ts";
import { connect, heartbeat, sessionOf } from "./live-helpers.ts";

type ErrorBody = { error: { code: string } };

const upgrade = (nodeKey: string) => call("/api/node/connect", { headers: { upgrade: "websocket", "x-node-key": nodeKey } });

/** The same node id with another secret of the right shape. */
const wrongKey = (node: EnrolledNode) => `bnk.${node.node_id}.${"w".repeat(43)}`;

/** D1's row for the node now holds another key hash: an upgrade that still works did not read it. */
async function changeKeyInD1(nodeId: string): Promise<void> {
  await env.DB.prepare("UPDATE nodes SET key_hash = ? WHERE id = ?").bind("0".repeat(64), nodeId).run();
}

async function storedKeys(nodeId: string): Promise<string[]> {
  return runInDurableObject(sessionOf(nodeId), async (_instance: NodeSession, state) => [...(await state.storage.list()).keys()]);
}

describe("the live socket's key", () => {
  it("is checked on a reconnect against what the node's Durable Object keeps, without reading D1", async () => {
    const node = await enrollNode();
    const first = await connect(node);
    first.ws.close(1000, "edge restart");
    await changeKeyInD1(node.node_id);
    const again = await connect(node);
    again.send(heartbeat(node));
    expect((await again.next("heartbeat_ack")).type).toBe("heartbeat_ack");
  });

  it("that is wrong gets 401 and neither opens a socket nor replaces the node's live one", async () => {
    const node = await enrollNode();
    const live = await connect(node);
    const refused = await upgrade(wrongKey(node));
    expect(refused.status).toBe(401);
    expect(refused.webSocket).toBeNull();
    expect((await refused.json<ErrorBody>()).error.code).toBe("node_key_invalid");
    live.send(heartbeat(node));
    expect((await live.next("heartbeat_ack")).type).toBe("heartbeat_ack");
  });

  it("that is wrong still has its node's key read from D1 and kept: a flood of wrong keys reads D1 once", async () => {
    const node = await enrollNode();
    expect((await upgrade(wrongKey(node))).status).toBe(401);
    await changeKeyInD1(node.node_id);
    // The right key works although D1 no longer holds it: the object kept what it read the first time.
    expect((await upgrade(node.node_key)).status).toBe(101);
  });

  it("naming a node D1 does not know gets 401 and leaves nothing stored in a Durable Object", async () => {
    const unknown = crypto.randomUUID();
    const res = await upgrade(`bnk.${unknown}.${"u".repeat(43)}`);
    expect(res.status).toBe(401);
    expect((await res.json<ErrorBody>()).error.code).toBe("node_key_invalid");
    expect(await storedKeys(unknown)).toEqual([]);
  });

  it("that is malformed or missing gets 401 without reaching any Durable Object", async () => {
    for (const [headers, code] of [
      [{ upgrade: "websocket" }, "node_key_missing"],
      [{ upgrade: "websocket", "x-node-key": "bnk.not-a-uuid.secret" }, "node_key_invalid"],
    ] as const) {
      const res = await call("/api/node/connect", { headers });
      expect(res.status).toBe(401);
      expect((await res.json<ErrorBody>()).error.code).toBe(code);
    }
  });

  it("when wrong, spends its own request budget, not the node's: the node still connects after a flood", async () => {
    const node = await enrollNode();
    let limited = false;
    // 2 × 60 + 1 fill at least one of the limit's clock-aligned minute windows.
    for (let i = 0; i < 121 && !limited; i++) limited = (await upgrade(wrongKey(node))).status === 429;
    expect(limited, "wrong keys were never limited").toBe(true);
    expect((await upgrade(node.node_key)).status).toBe(101);
  });
});
