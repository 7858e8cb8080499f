/**
 * Downloading a bundle over real HTTP, the parts the attack tests do not reach: a download that
 * broke off is resumed with Range (206) and completes, a server that ignores Range is read from
 * the start instead of appended, a resumed file that turns out wrong is dropped and fetched
 * fresh, a stalled transfer is cut, and a partial file of another release does not linger. The
 * last test runs the updater itself: one command survives a broken connection and installs.
 */
import { randomBytes } from "node:crypto";
import { gzipSync } from "node:zlib";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { TelemetryEventSchema } from "../../../protocol/index.ts";
import type { TelemetryEvent } from "../../../protocol/index.ts";
import { homePaths } from "../../../agent/core/paths.ts";
import { downloadBundle, partFileOf } from "../../../agent/update/download.ts";
import { makeScrubber, scrubEvent } from "../../../agent/crash/scrub.ts";
import { buildKeyring } from "../../../agent/update/trusted-keys.ts";
import { createUpdater } from "../../../agent/update/updater.ts";
import { tempHome } from "../../support/helpers.ts";
import { honestBundle } from "../../support/fake-cloud.ts";
import { manifestFor, sha256Hex, signRelease, testKey } from "../../support/release-fixtures.ts";

const bytes = randomBytes(200 * 1024);
const sha256 = sha256Hex(bytes);

type Handler = (request: IncomingMessage, response: ServerResponse, index: number) => void;
const servers: Array<{ close(): void }> = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

async function serve(
  handler: Handler,
): Promise<{ url: string; ranges: Array<string | null>; encodings: Array<string | null>; openSockets: () => number }> {
  const ranges: Array<string | null> = [];
  const encodings: Array<string | null> = [];
  const sockets = new Set<Socket>();
  const server = createServer((request, response) => {
    ranges.push(request.headers.range ?? null);
    encodings.push(request.headers["accept-encoding"] ?? null);
    handler(request, response, ranges.length - 1);
  });
  server.on("error", () => undefined);
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("error", () => undefined);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  servers.push({
    close: () => {
      server.closeAllConnections();
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/node/releases/0.3.1/bundle`;
  return { url, ranges, encodings, openSockets: () => sockets.size };
}

/** Polls until `probe` holds, at most `timeoutMs`; the error says what never happened. */
async function until(probe: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`still waiting after ${timeoutMs} ms for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
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
    const server = await serve((_req, res) => {
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

describe("a hostile server cannot hold a download", () => {
  // Small clocks so each case ends fast; every case must end by itself, well before the test's timeout.
  const limits = { idleTimeoutMs: 300, deadlineMs: 1_500 };
  const BOUND_MS = 5_000;
  const gzipped = gzipSync(bytes);

  async function attempt(handler: Handler) {
    const server = await serve(handler);
    const downloads = await dir();
    const started = Date.now();
    const result = await request(server.url, downloads, limits);
    const tookMs = Date.now() - started;
    // The socket is destroyed, not only abandoned: the server sees its connection close.
    await until(() => server.openSockets() === 0, "the node to close its connection to the server");
    return { result, tookMs, downloads, server };
  }

  it("asks for the bundle's raw bytes (Accept-Encoding: identity): the SHA-256 is over them", async () => {
    const server = await serve(honestBundle(bytes));
    expect(await request(server.url, await dir())).toMatchObject({ ok: true });
    expect(server.encodings).toEqual(["identity"]);
  });

  it("a gzip-encoded body with one corrupted byte ends in a clean failure, not a hang", async () => {
    const corrupted = Buffer.from(gzipped);
    const middle = corrupted.length >> 1;
    corrupted[middle] = corrupted[middle]! ^ 0xff;
    const { result, tookMs, downloads } = await attempt((_req, res) => {
      res.writeHead(200, { "content-encoding": "gzip" }); // chunked, as the edge sends it
      res.end(corrupted);
    });
    expect(result).toMatchObject({ ok: false, code: "download_failed" });
    expect(!result.ok && result.reason).toMatch(/gzip/);
    expect(tookMs).toBeLessThan(BOUND_MS);
    expect(await readdir(downloads)).toEqual([]);
  }, 15_000);

  it("a gzip-encoded body cut short, its connection left open, ends in a clean failure", async () => {
    const { result, tookMs } = await attempt((_req, res) => {
      res.writeHead(200, { "content-encoding": "gzip" });
      res.write(gzipped.subarray(0, gzipped.length >> 1)); // and then nothing, forever
    });
    expect(result).toMatchObject({ ok: false, code: "download_failed" });
    expect(tookMs).toBeLessThan(BOUND_MS);
  }, 15_000);

  it("a body that never sends a byte after the headers is cut after the idle timeout", async () => {
    const { result, tookMs } = await attempt((_req, res) => {
      res.writeHead(200, { "content-length": String(bytes.length) });
      res.flushHeaders();
    });
    expect(result).toMatchObject({ ok: false, code: "download_failed", retryable: true });
    expect(!result.ok && result.reason).toMatch(/broke off after 0 of \d+ bytes \(no data for/);
    expect(tookMs).toBeLessThan(BOUND_MS);
  }, 15_000);

  it("a server that accepts the connection and never answers is given up after the idle timeout", async () => {
    const { result, tookMs } = await attempt(() => undefined);
    expect(result).toMatchObject({ ok: false, code: "download_failed", retryable: true });
    expect(!result.ok && result.reason).toMatch(/no answer/);
    expect(tookMs).toBeLessThan(BOUND_MS);
  }, 15_000);

  it("a response that sends every byte but never ends is cut, and the bytes are kept for the next attempt", async () => {
    const { result, tookMs, downloads } = await attempt((_req, res) => {
      res.writeHead(200); // chunked: only the closing chunk would end it, and it never comes
      res.write(bytes);
    });
    expect(result).toMatchObject({ ok: false, code: "download_failed", retryable: true });
    expect(tookMs).toBeLessThan(BOUND_MS);
    expect((await readFile(partFileOf(downloads, sha256))).length).toBe(bytes.length);
  }, 15_000);

  it("a server that dribbles a byte at a time, never silent for the idle timeout, is cut at the download's deadline", async () => {
    let timer: NodeJS.Timeout | null = null;
    const { result, tookMs, downloads } = await attempt((_req, res) => {
      res.writeHead(200, { "content-length": String(bytes.length) });
      let sent = 0;
      timer = setInterval(() => {
        if (res.destroyed || sent >= bytes.length) {
          if (timer) clearInterval(timer);
          return;
        }
        res.write(bytes.subarray(sent, sent + 1));
        sent += 1;
      }, 20);
    });
    if (timer) clearInterval(timer);
    expect(result).toMatchObject({ ok: false, code: "download_failed", retryable: true });
    expect(!result.ok && result.reason).toMatch(/took longer than 1\.5 s/);
    expect(tookMs).toBeGreaterThanOrEqual(limits.deadlineMs - 50);
    expect(tookMs).toBeLessThan(BOUND_MS);
    // What arrived is kept, as for any download that broke off: the next attempt resumes it.
    expect((await readFile(partFileOf(downloads, sha256))).length).toBeGreaterThan(0);
  }, 15_000);
});

describe("the updater", () => {
  function updaterFor(
    paths: ReturnType<typeof homePaths>,
    version: string,
    serverUrl: string,
    key: ReturnType<typeof testKey>,
    events: TelemetryEvent[],
  ) {
    return createUpdater({
      paths,
      version,
      server: new URL(serverUrl).origin,
      nodeKey: "bnk_test",
      keys: buildKeyring([{ key_id: key.keyId, public_key: key.publicKey }], () => undefined),
      platform: "linux",
      arch: "x64",
      now: Date.now,
      log: () => undefined,
      report: async (event) => void events.push(event),
      retryDelaysMs: [10, 10],
    });
  }

  it("retries a download that broke off, resuming it, and installs within the same command", async () => {
    const key = testKey();
    const honest = honestBundle(bytes);
    const server = await serve((req, res, index) => (index === 0 ? cutAfter(50_000)(req, res, index) : honest(req, res)));
    const paths = homePaths(await tempHome());
    const events: TelemetryEvent[] = [];
    const update = updaterFor(paths, "0.3.0", server.url, key, events);
    const result = await update(signRelease(manifestFor(bytes, { version: "0.3.1" }), key));
    expect(result).toEqual({ status: "done", installed: "0.3.1", detail: "installed 0.3.1; restarting into it" });
    expect(server.ranges).toEqual([null, "bytes=50000-"]);
    expect(events.map((e) => [e.type, e.details?.stage])).toEqual([
      ["update_progress", "downloaded"],
      ["update_progress", "installed"],
    ]);
    expect(events[0]!.details).toMatchObject({ version: "0.3.1", bytes: bytes.length, resumed_from: 50_000 });
    expect(await readFile(path.join(paths.versions, "0.3.1", "buhdi-node.mjs"))).toEqual(bytes);
    expect((await readFile(paths.current, "utf8")).trim()).toBe("0.3.1");
    // Installed once; this process is about to be replaced, so a second update waits for the new one.
    expect(await update(signRelease(manifestFor(bytes, { version: "0.3.2" }), key))).toMatchObject({
      status: "failed",
      code: "restart_pending",
    });
  });

  it("a corrupted gzip download ends the command in update_failed with the reason, in bounded time", async () => {
    const key = testKey();
    const corrupted = Buffer.from(gzipSync(bytes));
    corrupted[100] = corrupted[100]! ^ 0xff;
    const server = await serve((_req, res) => {
      res.writeHead(200, { "content-encoding": "gzip" });
      res.end(corrupted);
    });
    const events: TelemetryEvent[] = [];
    const update = updaterFor(homePaths(await tempHome()), "0.3.0", server.url, key, events);
    const started = Date.now();
    const result = await update(signRelease(manifestFor(bytes, { version: "0.3.1" }), key));
    expect(result).toMatchObject({ status: "failed", code: "download_failed", detail: expect.stringMatching(/gzip-encoded/) });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(events.map((e) => [e.type, e.details?.code])).toEqual([["update_failed", "download_failed"]]);
  }, 15_000);

  it("told to stop (its command's deadline passed), it cuts the download at once and reports update_failed with why", async () => {
    const key = testKey();
    const server = await serve((_req, res) => {
      res.writeHead(200, { "content-length": String(bytes.length) });
      res.write(bytes.subarray(0, 1000)); // then silence; the idle timeout (30 s) is not what ends it
    });
    const events: TelemetryEvent[] = [];
    const update = updaterFor(homePaths(await tempHome()), "0.3.0", server.url, key, events);
    const stopper = new AbortController();
    const started = Date.now();
    const pending = update(signRelease(manifestFor(bytes, { version: "0.3.1" }), key), { signal: stopper.signal });
    await until(() => server.ranges.length === 1, "the download to start");
    stopper.abort(new Error("SOFTWARE_UPDATE did not finish within 0.2 s and was stopped"));
    const result = await pending;
    expect(result).toMatchObject({
      status: "failed",
      code: "download_failed",
      detail: expect.stringMatching(/did not finish within 0\.2 s and was stopped/),
    });
    expect(Date.now() - started).toBeLessThan(5_000);
    // One attempt: a stopped update does not go on to the next one.
    expect(server.ranges).toHaveLength(1);
    await until(() => server.openSockets() === 0, "the download's connection to close");
    expect(events.map((e) => e.type)).toEqual(["update_failed"]);
  }, 15_000);

  it("an install that fails on disk in a home whose path has a space reports its error, but not the home, once scrubbed for the way out", async () => {
    const key = testKey();
    const server = await serve(honestBundle(bytes));
    const owner = path.join(await tempHome(), "Nana Smith");
    const paths = homePaths(path.join(owner, ".buhdi-node"));
    await mkdir(paths.home, { recursive: true });
    await writeFile(paths.versions, "not a directory"); // the install cannot make versions/
    const events: TelemetryEvent[] = [];
    const result = await updaterFor(paths, "0.3.0", server.url, key, events)(signRelease(manifestFor(bytes, { version: "0.3.1" }), key));
    expect(result).toMatchObject({ status: "failed", code: "install_failed" });
    const failed = events.find((e) => e.type === "update_failed")!;
    expect(String(failed.details?.reason)).toContain(owner); // as made, on this machine
    const leaving = scrubEvent(failed, makeScrubber({ homedir: owner, username: "nana" }));
    expect(String(leaving.details?.reason)).toMatch(/^could not install 0\.3\.1: .*~\/\.buhdi-node\/versions/);
    expect(JSON.stringify(leaving)).not.toContain("Nana Smith");
    expect(TelemetryEventSchema.safeParse(leaving).success).toBe(true);
  });

  it("a SOFTWARE_UPDATE re-sent after its install committed (its ack lost with the restart) is acked done by the new version as already installed", async () => {
    const key = testKey();
    const server = await serve(honestBundle(bytes));
    const paths = homePaths(await tempHome());
    const release = signRelease(manifestFor(bytes, { version: "0.3.1" }), key);
    expect(await updaterFor(paths, "0.3.0", server.url, key, [])(release)).toMatchObject({ status: "done", installed: "0.3.1" });

    // The node was killed before the ack; 0.3.1 now runs and the cloud sends the same command again.
    const events: TelemetryEvent[] = [];
    const requests = server.ranges.length;
    const result = await updaterFor(paths, "0.3.1", server.url, key, events)(release);
    expect(result).toEqual({ status: "done", installed: null, detail: "0.3.1 is already installed and running" });
    expect(server.ranges.length).toBe(requests);
    expect(events).toEqual([]);
  });

  it("the running version's release signed anew, not the one this node installed, is still refused as not newer (a replay)", async () => {
    const key = testKey();
    const server = await serve(honestBundle(bytes));
    const paths = homePaths(await tempHome());
    await updaterFor(paths, "0.3.0", server.url, key, [])(signRelease(manifestFor(bytes, { version: "0.3.1" }), key));
    const replay = signRelease(manifestFor(bytes, { version: "0.3.1", created_at: new Date(Date.now() - 3_600_000).toISOString() }), key);
    expect(await updaterFor(paths, "0.3.1", server.url, key, [])(replay)).toMatchObject({ status: "failed", code: "not_newer" });
  });
});
