/**
 * A newer cloud sends a command this agent version does not know: the real node (`buhdi-node
 * run` from source, on a real socket to a scripted cloud) answers it "rejected" as unsupported,
 * keeps running in the same process, and carries out the next command it does know.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fakeEnrolledHome } from "../../support/helpers.ts";
import { eventually, liveNodes } from "../../support/live-node.ts";
import type { LiveNode } from "../../support/live-node.ts";
import { startFakeCloud } from "../../support/fake-cloud.ts";
import type { FakeCloud } from "../../support/fake-cloud.ts";

const NODE_ID = "8a0c6a56-52a3-4f39-9e9b-0b6c1c4f6f34"; // fakeEnrolledHome's

const nodes = liveNodes();
let cloud: FakeCloud;
let node: LiveNode;

beforeAll(async () => {
  cloud = await startFakeCloud(NODE_ID);
  node = await nodes.start(await fakeEnrolledHome(cloud.url));
  await eventually(
    () => node.health(),
    (h) => h.connection.connected,
  );
});

afterAll(async () => {
  await nodes.stopAll();
  await cloud?.close();
});

describe("a command of a type this version does not know", () => {
  it("is acked rejected as unsupported; the node keeps running and does the next command", async () => {
    const pidBefore = (await node.health()).pid;
    const unknown = await cloud.sendCommand({ at: "03:00" }, { command: "REBOOT_AT" });
    expect(await cloud.waitForAck(unknown)).toEqual({
      type: "command_ack",
      id: unknown,
      status: "rejected",
      detail: "unsupported command type REBOOT_AT: this node version does not know it",
    });
    const config = await cloud.sendCommand({ log_level: "debug" }, { command: "CONFIG_CHANGE" });
    expect(await cloud.waitForAck(config)).toMatchObject({ status: "done" });
    const after = await node.health();
    expect(after.pid).toBe(pidBefore);
    expect(after.connection.connected).toBe(true);
  });
});
