/**
 * update_seconds: from the SOFTWARE_UPDATE command being queued to the node reporting itself
 * healthy on the new version, through the real local edge (R2, the node's Durable Object) and a
 * real agent process running a release bundle; bundle_bytes: the size of that bundle.
 * The health window is shortened (BENCH_UPDATE_HEALTHY_MS, default 5 s) and reported, since the
 * production 60 s would otherwise be most of the figure.
 * It reuses the agent tests' process tools (test/support, test/agent): the same real processes.
 */
import { rm } from "node:fs/promises";
import { buildAgent } from "../scripts/build-agent.ts";
import { release } from "../scripts/release.ts";
import { testKey, trustEnv } from "../test/support/release-fixtures.ts";
import { nodeRunner } from "../test/support/node-runner.ts";
import { startEdge } from "../test/support/edge.ts";
import { tempHome } from "../test/support/helpers.ts";
import { eventually, FAST_EDGE_VARS } from "../test/support/live-node.ts";
import { log, positiveInt } from "./settings.ts";

export type UpdateFigures = { update_seconds: number; bundle_bytes: number; update_healthy_window_s: number };

export async function benchUpdate(): Promise<UpdateFigures> {
  const healthyMs = positiveInt("BENCH_UPDATE_HEALTHY_MS", 5000);
  const key = testKey();
  const outDir = await tempHome();
  const runner = nodeRunner();
  const edge = await startEdge({
    vars: { ...FAST_EDGE_VARS, RELEASE_PUBLIC_KEYS: JSON.stringify([{ key_id: key.keyId, public_key: key.publicKey }]) },
  });
  try {
    const [from, to] = await Promise.all([buildAgent({ version: "0.3.1", outDir }), buildAgent({ version: "0.3.2", outDir })]);
    const { home, nodeId } = await edge.enrolledHome();
    const node = runner.start(from.file, home, { ...trustEnv(key), BUHDI_NODE_UPDATE_HEALTHY_MS: String(healthyMs) });
    if (!(await node.healthWhen((h) => h.version === "0.3.1" && h.connection.connected, 60_000)))
      throw new Error("the 0.3.1 node never connected");
    const released = await release({
      version: "0.3.2",
      channel: "stable",
      key,
      server: edge.url,
      adminToken: edge.adminToken,
      remote: false,
      persistDir: edge.persistDir,
      expiresInDays: 30,
      bundle: to.file,
    });
    log(`update: pushing 0.3.2 (${to.size} bytes) to a node on 0.3.1, healthy window ${healthyMs} ms`);
    const started = Date.now();
    const queued = await edge.admin(`/api/admin/nodes/${nodeId}/commands`, {
      type: "SOFTWARE_UPDATE",
      payload: {
        manifest: released.manifest,
        signature: released.signature,
        key_id: released.key_id,
        download_path: "/api/node/releases/0.3.2/bundle",
      },
    });
    if (queued.status !== 202) throw new Error(`queueing the update failed: ${queued.status}`);
    const rows = await eventually(
      () => edge.telemetryOf(nodeId),
      (list) => list.some((r) => r.type === "update_progress" && r.payload.details?.stage === "healthy"),
      120_000,
    );
    if (!rows.some((r) => r.type === "update_progress" && r.payload.details?.stage === "healthy"))
      throw new Error("the node never reported healthy on 0.3.2");
    return {
      update_seconds: Math.round((Date.now() - started) / 100) / 10,
      bundle_bytes: to.size,
      update_healthy_window_s: healthyMs / 1000,
    };
  } finally {
    runner.stopAll();
    await edge.stop();
    await rm(outDir, { recursive: true, force: true });
  }
}
