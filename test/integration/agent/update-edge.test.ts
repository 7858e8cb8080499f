/**
 * An update through the real cloud: the local edge (wrangler dev, D1, R2, the node's Durable
 * Object) trusting a test release key, `npm run release`'s pipeline (scripts/release.ts: sign,
 * upload to local R2, register) for a bundle built by scripts/build-agent.ts, and the
 * SOFTWARE_UPDATE queued with the admin API. A node running 0.3.1 from its bundle first gets a
 * release signed by a key it does not trust (refused: ack and telemetry land in the cloud), then
 * the registered 0.3.2, which it downloads from the edge, installs and restarts into; the edge
 * then counts the install.
 */
import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildAgent } from "../../../scripts/build-agent.ts";
import type { BuiltAgent } from "../../../scripts/build-agent.ts";
import { release } from "../../../scripts/release.ts";
import { startEdge } from "../../support/edge.ts";
import type { Edge, TelemetryRow } from "../../support/edge.ts";
import { tempHome } from "../../support/helpers.ts";
import { FAST_EDGE_VARS, eventually } from "../../support/live-node.ts";
import { nodeRunner } from "../../support/node-runner.ts";
import { manifestFor, signRelease, testKey, trustEnv } from "../../support/release-fixtures.ts";
import type { TestKey } from "../../support/release-fixtures.ts";

const runner = nodeRunner();
let edge: Edge;
let key: TestKey;
let outDir: string;
let v031: BuiltAgent;
let v032: BuiltAgent;

beforeAll(async () => {
  key = testKey();
  outDir = await tempHome();
  [v031, v032] = await Promise.all([buildAgent({ version: "0.3.1", outDir }), buildAgent({ version: "0.3.2", outDir })]);
  const trusted = JSON.stringify([{ key_id: key.keyId, public_key: key.publicKey }]);
  edge = await startEdge({ vars: { ...FAST_EDGE_VARS, RELEASE_PUBLIC_KEYS: trusted } });
});

afterAll(async () => {
  runner.stopAll();
  await edge?.stop();
  await rm(outDir, { recursive: true, force: true });
});

async function command(nodeId: string, payload: unknown): Promise<string> {
  const queued = await edge.admin(`/api/admin/nodes/${nodeId}/commands`, { type: "SOFTWARE_UPDATE", payload });
  if (queued.status !== 202) throw new Error(`queue command: ${queued.status} ${JSON.stringify(queued.body)}`);
  return (queued.body as { id: string }).id;
}

async function ackOf(nodeId: string, id: string) {
  const commands = await eventually(
    () => edge.commandsOf(nodeId),
    (list) => list.some((c) => c.id === id && c.ack !== null),
    30_000,
  );
  return commands.find((c) => c.id === id)?.ack ?? null;
}

const telemetryWhere = (nodeId: string, match: (row: TelemetryRow) => boolean) =>
  eventually(
    () => edge.telemetryOf(nodeId),
    (rows) => rows.some(match),
    30_000,
  ).then((rows) => rows.find(match) ?? null);

describe("an update through the real edge", () => {
  it("a release signed by an untrusted key is refused; the registered release is downloaded from the edge, installed and counted", async () => {
    const { home, nodeId } = await edge.enrolledHome();
    const node = runner.start(v031.file, home, { ...trustEnv(key), BUHDI_NODE_UPDATE_HEALTHY_MS: "1500" });
    const old = await node.healthWhen((h) => h.version === "0.3.1" && h.connection.connected, 30_000);
    expect(old?.connection.connected).toBe(true);

    // Refused: the cloud records the failed ack and the node's update_failed.
    const forged = signRelease(manifestFor(Buffer.from("not a real bundle"), { version: "0.3.2" }), testKey());
    const refusedId = await command(nodeId, forged);
    expect(await ackOf(nodeId, refusedId)).toMatchObject({
      status: "failed",
      detail: expect.stringMatching(/which this node does not trust/),
    });
    const failed = await telemetryWhere(nodeId, (row) => row.type === "update_failed");
    expect(failed).toMatchObject({
      severity: "warning",
      node_version: "0.3.1",
      payload: { details: { code: "unknown_key", version: "0.3.2" } },
    });
    expect((await node.health()).pid).toBe(old!.pid);

    // The real pipeline: signed, uploaded to R2, registered; then pushed to this node.
    const released = await release({
      version: "0.3.2",
      channel: "stable",
      key,
      server: edge.url,
      adminToken: edge.adminToken,
      remote: false,
      persistDir: edge.persistDir,
      expiresInDays: 30,
      bundle: v032.file,
    });
    const id = await command(nodeId, {
      manifest: released.manifest,
      signature: released.signature,
      key_id: released.key_id,
      download_path: "/api/node/releases/0.3.2/bundle",
    });
    expect(await ackOf(nodeId, id)).toMatchObject({ status: "done", detail: "installed 0.3.2; restarting into it" });
    const fresh = await node.healthWhen((h) => h.version === "0.3.2" && h.connection.connected, 30_000);
    expect(fresh?.pid).not.toBe(old!.pid);

    const healthy = await telemetryWhere(nodeId, (row) => row.type === "update_progress" && row.payload.details?.stage === "healthy");
    expect(healthy).toMatchObject({ node_version: "0.3.2", payload: { details: { version: "0.3.2" } } });
    const stages = (await edge.telemetryOf(nodeId))
      .filter((row) => row.type === "update_progress")
      .map((row) => row.payload.details?.stage);
    expect(stages.sort()).toEqual(["downloaded", "healthy", "installed"]);
    const releases = await edge.admin("/api/admin/releases");
    expect((releases.body as { items: Array<{ version: string; installs: number }> }).items).toEqual([
      expect.objectContaining({ version: "0.3.2", installs: 1 }),
    ]);
    expect((await edge.nodeView(nodeId)).version).toBe("0.3.2");
  });
});
