/**
 * The update channel under attack (the threat list in docs/architecture.md, after The Update Framework), tried
 * for real: one node (`buhdi-node run`, version 0.3.0 from source) trusting one test key, the
 * SOFTWARE_UPDATE command delivered on its WebSocket, the bundle served by a server that lies
 * in one way per test. Every time: nothing installed, the same node program still running the
 * old version, the command acked failed with the reason, and update_failed telemetry with the
 * same reason and a code. The last test gives the same node an honest release, which it installs:
 * the refusals above came from the checks, not from a setup that could never install anything.
 */
import { randomBytes } from "node:crypto";
import { gzipSync } from "node:zlib";
import type { ServerResponse } from "node:http";
import { readdir, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_BUNDLE_BYTES } from "../../../protocol/index.ts";
import type { SignedRelease, TelemetryEvent } from "../../../protocol/index.ts";
import { buildAgent } from "../../../scripts/build-agent.ts";
import { fakeEnrolledHome, tempHome } from "../../support/helpers.ts";
import { eventually, liveNodes } from "../../support/live-node.ts";
import type { LiveNode } from "../../support/live-node.ts";
import { honestBundle, startFakeCloud } from "../../support/fake-cloud.ts";
import type { BundleHandler, FakeCloud } from "../../support/fake-cloud.ts";
import { manifestFor, signRelease, testKey, trustEnv } from "../../support/release-fixtures.ts";
import type { TestKey } from "../../support/release-fixtures.ts";

const NODE_ID = "8a0c6a56-52a3-4f39-9e9b-0b6c1c4f6f34"; // fakeEnrolledHome's
const NODE_KEY = "bnk_test_key_that_no_server_knows";
const DAY = 24 * 3600 * 1000;

const nodes = liveNodes();
let cloud: FakeCloud;
let node: LiveNode;
let home: string;
let key: TestKey;
let stranger: TestKey;
/** What the attacks' manifests describe: any bytes will do, none of them is ever run. */
const bytes = randomBytes(300 * 1024);

beforeAll(async () => {
  key = testKey();
  stranger = testKey();
  cloud = await startFakeCloud(NODE_ID);
  home = await fakeEnrolledHome(cloud.url);
  node = await nodes.start(home, {
    ...trustEnv(key),
    BUHDI_NODE_DOWNLOAD_RETRY_MS: "20",
    // Three attempts, which the refusals below are pinned to.
    BUHDI_NODE_DOWNLOAD_RETRIES: "2",
    BUHDI_NODE_DOWNLOAD_IDLE_MS: "2000",
  });
  await eventually(
    () => node.health(),
    (h) => h.connection.connected,
  );
});

afterAll(async () => {
  await nodes.stopAll();
  await cloud?.close();
});

type Health = { pid: number; version: string };
const health = async (): Promise<Health> => (await (await fetch(`${node.url()}/health`)).json()) as Health;

async function installed(): Promise<{ current: string | null; versions: string[] }> {
  const current = await readFile(path.join(home, "current"), "utf8").catch(() => null);
  const versions = await readdir(path.join(home, "versions")).catch(() => []);
  return { current, versions };
}

/** Sends the release, returns the ack, the update_failed event it caused and the bundle requests it made. */
async function attempt(release: unknown, handler: BundleHandler = honestBundle(bytes)) {
  const before = await health();
  const seen = new Set(cloud.telemetry.map((e) => e.event_id));
  const requestsBefore = cloud.bundleRequests.length;
  cloud.serveBundle(handler);
  const id = await cloud.sendCommand(release);
  const ack = await cloud.waitForAck(id);
  const failed = await cloud.waitForTelemetry((e) => e.type === "update_failed" && !seen.has(e.event_id), "update_failed");
  const after = await health();
  return { before, after, ack, failed, requests: cloud.bundleRequests.slice(requestsBefore) };
}

function expectRefused(result: Awaited<ReturnType<typeof attempt>>, code: string, reason: RegExp, version: string | null) {
  const details = result.failed.details as Record<string, unknown>;
  expect(result.ack.status).toBe("failed");
  expect(result.ack.detail).toMatch(reason);
  expect(details).toMatchObject({ stage: "failed", code, version });
  expect(details.reason).toBe(result.ack.detail);
  expect(result.failed.node_version).toBe("0.3.0");
  // The same program, on the old version: no restart, no switch.
  expect(result.after).toEqual({ ...result.after, pid: result.before.pid, version: "0.3.0" });
}

const release = (fields: Parameters<typeof manifestFor>[1] & { version: string }, signer: TestKey = key): SignedRelease =>
  signRelease(manifestFor(bytes, fields), signer);

describe("a release that is not what it says is refused before anything is downloaded", () => {
  it("unknown key: signed by a key the node does not trust", async () => {
    const result = await attempt(release({ version: "0.3.1" }, stranger));
    expectRefused(result, "unknown_key", new RegExp(`key ${stranger.keyId}, which this node does not trust`), "0.3.1");
    expect(result.requests).toEqual([]);
    expect(await installed()).toEqual({ current: null, versions: [] });
  });

  it("wrong signature: a trusted key's signature over another manifest", async () => {
    const honest = release({ version: "0.3.1" });
    const other = release({ version: "0.9.0" });
    const result = await attempt({ ...honest, signature: other.signature });
    expectRefused(result, "bad_signature", /the signature does not match the manifest/, "0.3.1");
    expect(result.requests).toEqual([]);
  });

  it("wrong signature: a manifest changed after it was signed (a bigger size)", async () => {
    const honest = release({ version: "0.3.1" });
    const edited = honest.manifest.replace(`"size":${bytes.length}`, `"size":${bytes.length + 1}`);
    expect(edited).not.toBe(honest.manifest);
    const result = await attempt({ ...honest, manifest: edited });
    expectRefused(result, "bad_signature", /the signature does not match/, "0.3.1");
    expect(result.requests).toEqual([]);
  });

  it("wrong signature: an untrusted key's signature under a trusted key's id", async () => {
    const forged = signRelease(manifestFor(bytes, { version: "0.3.1" }), stranger, { keyId: key.keyId });
    const result = await attempt(forged);
    expectRefused(result, "bad_signature", new RegExp(`key ${key.keyId}`), "0.3.1");
    expect(result.requests).toEqual([]);
  });

  it("expired manifest (freeze attack): validly signed, but its expiry has passed", async () => {
    const result = await attempt(
      release({
        version: "0.3.1",
        created_at: new Date(Date.now() - 3 * DAY).toISOString(),
        expires_at: new Date(Date.now() - 60_000).toISOString(),
      }),
    );
    expectRefused(result, "expired", /the manifest for 0\.3\.1 expired at/, "0.3.1");
    expect(result.requests).toEqual([]);
  });

  it("downgrade: a validly signed, unexpired release of an older version", async () => {
    const result = await attempt(release({ version: "0.2.9" }));
    expectRefused(result, "not_newer", /0\.2\.9 is not newer than the running version 0\.3\.0/, "0.2.9");
    expect(result.requests).toEqual([]);
  });

  it("replayed old manifest: the release this node already runs, signed a month ago and still unexpired", async () => {
    const old = release({
      version: "0.3.0",
      created_at: new Date(Date.now() - 30 * DAY).toISOString(),
      expires_at: new Date(Date.now() + 30 * DAY).toISOString(),
    });
    const result = await attempt(old);
    expectRefused(result, "not_newer", /0\.3\.0 is not newer than the running version 0\.3\.0/, "0.3.0");
    expect(result.requests).toEqual([]);
  });

  it("a bundle bigger than MAX_BUNDLE_BYTES is refused from the manifest alone", async () => {
    const result = await attempt(release({ version: "0.3.1", size: MAX_BUNDLE_BYTES + 1 }));
    expectRefused(result, "too_big", new RegExp(`${MAX_BUNDLE_BYTES + 1} bytes; this node accepts at most ${MAX_BUNDLE_BYTES}`), "0.3.1");
    expect(result.requests).toEqual([]);
  });

  it("a payload that is not a signed release at all", async () => {
    const result = await attempt({ version: "0.3.1", url: "http://evil.example/buhdi.mjs" });
    expectRefused(result, "bad_payload", /not a signed release/, null);
    expect(result.requests).toEqual([]);
  });
});

describe("a bundle that is not what the signed manifest says is refused and deleted", () => {
  it("tampered bundle: right size, one byte changed", async () => {
    const tampered = Buffer.from(bytes);
    tampered[1000] = tampered[1000]! ^ 0xff;
    const result = await attempt(release({ version: "0.3.1" }), honestBundle(tampered));
    expectRefused(result, "sha256_mismatch", /the bundle's SHA-256 is [0-9a-f]{64}; the manifest says/, "0.3.1");
    expect(result.requests).toHaveLength(1);
    expect(result.requests[0]!.nodeKey).toBe(NODE_KEY);
    expect(await readdir(path.join(home, "downloads"))).toEqual([]);
    expect(await installed()).toEqual({ current: null, versions: [] });
  });

  it("wrong size: the manifest promises more bytes than the bundle has (resumed, then given up)", async () => {
    const result = await attempt(release({ version: "0.3.1", size: bytes.length + 1000 }));
    expectRefused(
      result,
      "size_mismatch",
      new RegExp(`ended after ${bytes.length} bytes; the manifest says ${bytes.length + 1000}`),
      "0.3.1",
    );
    // Three attempts; the second asked for the rest and was told there is none (416).
    expect(result.requests.map((r) => r.range)).toEqual([null, `bytes=${bytes.length}-`, null]);
    expect(await installed()).toEqual({ current: null, versions: [] });
  });

  it("wrong size: the server announces more bytes than the manifest allows (refused before reading)", async () => {
    const result = await attempt(release({ version: "0.3.1", size: bytes.length - 1000 }));
    expectRefused(result, "oversized", new RegExp(`announced ${bytes.length} bytes; the manifest says ${bytes.length - 1000}`), "0.3.1");
    expect(await readdir(path.join(home, "downloads"))).toEqual([]);
  });

  it("truncated download: the connection breaks mid-bundle on every attempt; each retry asks to resume", async () => {
    const cutOff: BundleHandler = (_request, response) => {
      response.writeHead(200, { "content-length": String(bytes.length) });
      // Give the bytes time to arrive before the connection is torn down.
      response.write(bytes.subarray(0, 100_000), () => setTimeout(() => response.socket?.destroy(), 100));
    };
    const result = await attempt(release({ version: "0.3.1" }), cutOff);
    expectRefused(result, "download_failed", new RegExp(`broke off after 100000 of ${bytes.length} bytes`), "0.3.1");
    // This server ignores Range (answers 200), so each attempt starts over: after 100000 bytes again.
    expect(result.requests.map((r) => r.range)).toEqual([null, "bytes=100000-", "bytes=100000-"]);
    expect(await installed()).toEqual({ current: null, versions: [] });
  });

  it("endless data: a server that never stops sending is cut off just past the manifest's size", async () => {
    let sent = 0;
    let closed = false;
    const endless: BundleHandler = (_request, response: ServerResponse) => {
      response.writeHead(200, { "content-type": "application/octet-stream" }); // chunked, no length
      response.on("close", () => (closed = true));
      const chunk = randomBytes(64 * 1024);
      const pump = (): void => {
        while (!closed && sent < 200 * 1024 * 1024) {
          sent += chunk.length;
          if (!response.write(chunk)) {
            response.once("drain", pump);
            return;
          }
        }
      };
      pump();
    };
    const result = await attempt(release({ version: "0.3.1" }), endless);
    expectRefused(result, "oversized", new RegExp(`sent more than the manifest's ${bytes.length} bytes`), "0.3.1");
    await eventually(
      () => closed,
      (c) => c,
      5_000,
    );
    expect(closed).toBe(true);
    // Bounded by the manifest's size plus what was in flight in socket buffers, not by the server.
    expect(sent).toBeLessThan(bytes.length + 8 * 1024 * 1024);
    expect(result.requests).toHaveLength(1);
    expect(await readdir(path.join(home, "downloads"))).toEqual([]);
  });
});

describe("a download that goes wrong does not freeze the node's commands", () => {
  it("a corrupted gzip-encoded bundle ends in update_failed at once, and a CONFIG_CHANGE sent right behind it is carried out", async () => {
    const corrupted = gzipSync(bytes);
    corrupted[corrupted.length >> 1] = corrupted[corrupted.length >> 1]! ^ 0xff;
    const encodings: Array<string | undefined> = [];
    const seen = new Set(cloud.telemetry.map((e) => e.event_id));
    cloud.serveBundle((request, response) => {
      encodings.push(request.headers["accept-encoding"]);
      response.writeHead(200, { "content-encoding": "gzip" }); // chunked, as the edge sends it
      response.end(corrupted);
    });
    const before = await health();
    const update = await cloud.sendCommand(release({ version: "0.3.1" }));
    const config = await cloud.sendCommand({ note: "sent after the update" }, { command: "CONFIG_CHANGE" });
    expect(await cloud.waitForAck(update, 15_000)).toMatchObject({
      status: "failed",
      detail: expect.stringMatching(/gzip-encoded although the node asked for the raw bytes/),
    });
    expect(await cloud.waitForAck(config, 15_000)).toMatchObject({ status: "done" });
    const failed = await cloud.waitForTelemetry((e) => e.type === "update_failed" && !seen.has(e.event_id), "update_failed", 15_000);
    expect(failed.details).toMatchObject({ code: "download_failed", version: "0.3.1" });
    expect(encodings).toEqual(["identity"]);
    expect((await health()).pid).toBe(before.pid);
    expect(await installed()).toEqual({ current: null, versions: [] });
  });
});

describe("the same node, given an honest release", () => {
  it("installs it and restarts into it", async () => {
    const outDir = await tempHome();
    const built = await buildAgent({ version: "0.4.0", outDir });
    const bundle = await readFile(built.file);
    await rm(outDir, { recursive: true, force: true });
    const before = await health();
    cloud.serveBundle(honestBundle(bundle));
    const id = await cloud.sendCommand(signRelease(manifestFor(bundle, { version: "0.4.0" }), key));
    expect(await cloud.waitForAck(id)).toEqual({ type: "command_ack", id, status: "done", detail: "installed 0.4.0; restarting into it" });
    const after = await eventually(
      () => health().catch(() => before),
      (h) => h.version === "0.4.0",
    );
    expect(after.version).toBe("0.4.0");
    expect(after.pid).not.toBe(before.pid);
    expect(await installed()).toEqual({ current: "0.4.0\n", versions: ["0.4.0"] });
    const progress = cloud.telemetry.filter((e: TelemetryEvent) => e.type === "update_progress").map((e) => e.details?.stage);
    expect(progress).toEqual(["downloaded", "installed"]);
    // Every report of this file, refusals included, was one the edge's schema accepts.
    expect(cloud.refusedTelemetry).toEqual([]);
  });
});
