/**
 * Downloading a bundle over real HTTP, the parts the attack tests do not reach: a download that
 * broke off is resumed with Range (206) and completes, a server that ignores Range is read from
 * the start instead of appended, a resumed file that turns out wrong is dropped and fetched
 * fresh, a stalled transfer is cut, and a partial file of another release does not linger. The
 * last test runs the updater itself: one command survives a broken connection and installs.
 */
import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { TelemetryEvent } from "../../protocol/index.ts";
import { homePaths } from "../../agent/paths.ts";
import { downloadBundle, partFileOf } from "../../agent/release-download.ts";
import { buildKeyring } from "../../agent/trusted-keys.ts";
import { createUpdater } from "../../agent/updater.ts";
import { tempHome } from "../support/helpers.ts";
import { honestBundle } from "./fake-cloud.ts";
import { manifestFor, sha256Hex, signRelease, testKey } from "./release-fixtures.ts";

const bytes = randomBytes(200 * 1024);
const sha256 = sha256Hex(bytes);

type Handler = (request: IncomingMessage, response: ServerResponse, index: number) => void;
const servers: Array<{ close(): void }> = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

async function serve(handler: Handler): Promise<{ url: string; ranges: Array<string | null> }> {
  const ranges: Array<string | null> = [];
  const server = createServer((request, response) => {
    ranges.push(request.headers.range ?? null);
    handler(request, response, ranges.length - 1);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  servers.push({ close: () => { server.closeAllConnections(); server.close(); } });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/node/releases/0.3.1/bundle`, ranges };
}

/** Sends the first `n` bytes, then breaks the connection. */
function cutAfter(n: number): Handler {
  return (_request, response) => {
    response.writeHead(200, { "content-length": String(bytes.length) });
    response.write(bytes.subarray(0, n), () => setTimeout(() => response.socket?.destroy(), 50));
  };
}

async function dir(): Promise<string> {
  return path.join(await tempHome(), "downloads");
}

const request = (url: string, downloads: string, extra: Partial<Parameters<typeof downloadBundle>[0]> = {}) =>
  downloadBundle({ url, nodeKey: "bnk_test", sha256, size: bytes.length, dir: downloads, ...extra });

describe("resuming", () => {
  it("a download that broke off is resumed with Range from where it stopped, and completes (206)", async () => {
    const honest = honestBundle(bytes);
    const server = await serve((req, res, index) => (index === 0 ? cutAfter(80_000)(req, res, index) : honest(req, res)));
    const downloads = await dir();
    const first = await request(server.url, downloads);
    expect(first).toMatchObject({ ok: false, code: "download_failed", retryable: true });
    expect((await readFile(partFileOf(downloads, sha256))).length).toBe(80_000);

    const second = await request(server.url, downloads);
    expect(second).toEqual({ ok: true, file: partFileOf(downloads, sha256), bytes: bytes.length, resumedFrom: 80_000 });
    expect(server.ranges).toEqual([null, "bytes=80000-"]);
    expect(sha256Hex(await readFile(partFileOf(downloads, sha256)))).toBe(sha256);
  });

  it("a server that ignores Range (200) is read from the start, not appended to the partial file", async () => {
    const server = await serve((req, res) => {
      res.writeHead(200, { "content-length": String(bytes.length) });
      res.end(bytes);
    });
    const downloads = await dir();
    await mkdir(downloads, { recursive: true });
    await writeFile(partFileOf(downloads, sha256), bytes.subarray(0, 5000));
    const result = await request(server.url, downloads);
    expect(result).toMatchObject({ ok: true, resumedFrom: 0 });
    expect(server.ranges).toEqual(["bytes=5000-"]);
    expect(sha256Hex(await readFile(partFileOf(downloads, sha256)))).toBe(sha256);
  });

  it("a resumed file that does not hash right is deleted and marked worth one fresh try", async () => {
    const server = await serve(honestBundle(bytes));
    const downloads = await dir();
    await mkdir(downloads, { recursive: true });
    await writeFile(partFileOf(downloads, sha256), randomBytes(5000)); // not the bundle's first bytes
    const result = await request(server.url, downloads);
    expect(result).toMatchObject({ ok: false, code: "sha256_mismatch", retryable: true });
    expect(await readdir(downloads)).toEqual([]);
  });

  it("a complete download that was never installed is used as it is, without a request", async () => {
    const server = await serve(honestBundle(bytes));
    const downloads = await dir();
    await mkdir(downloads, { recursive: true });
    await writeFile(partFileOf(downloads, sha256), bytes);
    expect(await request(server.url, downloads)).toMatchObject({ ok: true, resumedFrom: bytes.length });
    expect(server.ranges).toEqual([]);
  });

  it("starting a download removes partial files of other releases", async () => {
    const server = await serve(honestBundle(bytes));
    const downloads = await dir();
    await mkdir(downloads, { recursive: true });
    await writeFile(path.join(downloads, `${"a".repeat(64)}.part`), randomBytes(1000));
    await request(server.url, downloads);
    expect(await readdir(downloads)).toEqual([`${sha256}.part`]);
  });
});

describe("a stalled transfer", () => {
  it("is cut after the idle timeout and kept for resuming", async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { "content-length": String(bytes.length) });
      res.write(bytes.subarray(0, 10_000)); // and then nothing, forever
    });
    const downloads = await dir();
    const started = Date.now();
    const result = await request(server.url, downloads, { idleTimeoutMs: 300 });
    expect(result).toMatchObject({ ok: false, code: "download_failed", retryable: true });
    expect(!result.ok && result.reason).toMatch(/broke off after 10000 of \d+ bytes \(no data for/);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect((await readFile(partFileOf(downloads, sha256))).length).toBe(10_000);
  });
});

describe("the updater", () => {
  it("retries a download that broke off, resuming it, and installs within the same command", async () => {
    const key = testKey();
    const honest = honestBundle(bytes);
    const server = await serve((req, res, index) => (index === 0 ? cutAfter(50_000)(req, res, index) : honest(req, res)));
    const paths = homePaths(await tempHome());
    const events: TelemetryEvent[] = [];
    const update = createUpdater({
      paths,
      version: "0.3.0",
      server: new URL(server.url).origin,
      nodeKey: "bnk_test",
      keys: buildKeyring([{ key_id: key.keyId, public_key: key.publicKey }], () => undefined),
      platform: "linux",
      arch: "x64",
      now: Date.now,
      log: () => undefined,
      report: async (event) => void events.push(event),
      retryDelaysMs: [10, 10],
    });
    const result = await update(signRelease(manifestFor(bytes, { version: "0.3.1" }), key));
    expect(result).toEqual({ status: "done", installed: "0.3.1", detail: "installed 0.3.1; restarting into it" });
    expect(server.ranges).toEqual([null, "bytes=50000-"]);
    expect(events.map((e) => [e.type, e.details?.stage])).toEqual([["update_progress", "downloaded"], ["update_progress", "installed"]]);
    expect(events[0]!.details).toMatchObject({ version: "0.3.1", bytes: bytes.length, resumed_from: 50_000 });
    expect(await readFile(path.join(paths.versions, "0.3.1", "buhdi-node.mjs"))).toEqual(bytes);
    expect((await readFile(paths.current, "utf8")).trim()).toBe("0.3.1");
    // Installed once; this process is about to be replaced, so a second update waits for the new one.
    expect(await update(signRelease(manifestFor(bytes, { version: "0.3.2" }), key))).toMatchObject({ status: "failed", code: "restart_pending" });
  });
});
