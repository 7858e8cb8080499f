/**
 * `npm run release`'s pipeline against the real local edge: sign, upload to
 * local R2 (the same state the running `wrangler dev` serves), register; then a
 * node is offered the release and downloads exactly the bytes that were signed.
 */
import { createHash, verify } from "node:crypto";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalEdge, startLocalEdge } from "../../scripts/local-edge.ts";
import { adminCall, enrollThroughApi } from "../support/edge-api.ts";
import { newReleaseKey, type ReleaseKey, trustedKeysVar } from "../../scripts/release-key.ts";
import { release } from "../../scripts/release.ts";
import { tempDir } from "../support/temp-dirs.ts";

describe("npm run release", () => {
  let edge: LocalEdge;
  let key: ReleaseKey;

  beforeAll(async () => {
    key = newReleaseKey();
    edge = await startLocalEdge({ vars: { RELEASE_PUBLIC_KEYS: trustedKeysVar([key]) } });
  });
  afterAll(async () => edge?.stop());

  const admin = (path: string, body?: unknown) => adminCall(edge, path, body);

  it("signs, uploads and registers a bundle that a node then downloads byte for byte", async () => {
    const dir = await tempDir("buhdi-release-");
    const bundle = path.join(dir, "buhdi-node.mjs");
    const bytes = Buffer.from(`// a stand-in bundle\nconsole.log("buhdi-node 0.3.1");\n`);
    await writeFile(bundle, bytes);

    const released = await release({
      version: "0.3.1",
      channel: "stable",
      key,
      server: edge.url,
      adminToken: edge.adminToken,
      remote: false,
      persistDir: edge.persistDir,
      expiresInDays: 30,
      bundle,
    });
    expect(verify(null, Buffer.from(released.manifest), key.privateKey, Buffer.from(released.signature, "base64"))).toBe(true);
    expect(JSON.parse(released.manifest)).toMatchObject({
      version: "0.3.1",
      channel: "stable",
      size: bytes.byteLength,
      sha256: createHash("sha256").update(bytes).digest("hex"),
    });
    const listed = (await admin("/api/admin/releases")).items as { version: string; status: string }[];
    expect(listed).toEqual([expect.objectContaining({ version: "0.3.1", status: "active" })]);

    const enrolled = await enrollThroughApi(edge, { name: "Kitchen Laptop", os: "linux", ownerEmail: "release-e2e@example.com" });
    const offer = (await (await fetch(`${edge.url}/api/node/versions`, { headers: { "x-node-key": enrolled.node_key } })).json()) as {
      latest: { version: string; download_path: string; manifest: string };
    };
    expect(offer.latest.version).toBe("0.3.1");
    expect(offer.latest.manifest).toBe(released.manifest);
    const download = await fetch(`${edge.url}${offer.latest.download_path}`, { headers: { "x-node-key": enrolled.node_key } });
    expect(Buffer.from(await download.arrayBuffer()).equals(bytes)).toBe(true);
  });
});
