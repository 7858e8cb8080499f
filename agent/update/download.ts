/**
 * Fetches a release bundle into downloads/<sha256>.part, trusting nothing the server says:
 *   - the manifest's size is the limit: a Content-Length above it is refused before the body is
 *     read, and the transfer is cut the moment more bytes than `size` have arrived (an endless
 *     stream costs us size + one chunk, never a full disk);
 *   - every wait ends (bounded-get.ts): no answer or no byte for idleTimeoutMs, or an attempt
 *     longer than deadlineMs, and the socket is destroyed (a stall or a trickle must not hold
 *     the command queue); the command's own deadline stops it the same way (signal);
 *   - the raw bytes are asked for (Accept-Encoding: identity) and an encoded body is refused:
 *     the SHA-256 is over the raw bytes, and fetch() could hang for ever in a corrupted gzip body;
 *   - done means exactly `size` bytes whose SHA-256 is the manifest's; anything else is refused
 *     and the bytes deleted, except a download that merely ended early, which is kept so the
 *     next attempt resumes it with `Range: bytes=N-` (the edge answers 206; a 200 means it
 *     ignored the range, and we start over).
 * One attempt per call; the updater decides about retries (`retryable`).
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, open, readdir, rm, stat, unlink } from "node:fs/promises";
import path from "node:path";
import { NODE_KEY_HEADER } from "../../protocol/index.ts";
import { parseApiError } from "../outbox/api-error.ts";
import { boundedGet } from "./bounded-get.ts";
import type { OpenedGet } from "./bounded-get.ts";
import { isMissing } from "../core/fs-errors.ts";
import { messageOf } from "../core/errors.ts";

export type DownloadFailureCode = "download_failed" | "size_mismatch" | "oversized" | "sha256_mismatch";

export type DownloadOutcome =
  | { ok: true; file: string; bytes: number; resumedFrom: number }
  | { ok: false; code: DownloadFailureCode; reason: string; retryable: boolean };

export type DownloadFailure = Extract<DownloadOutcome, { ok: false }>;

export type DownloadRequest = {
  url: string;
  nodeKey: string;
  sha256: string;
  size: number;
  dir: string;
  /** No answer or no byte for this long: the transfer is cut (default 30 s). */
  idleTimeoutMs?: number;
  /** The whole attempt must end within this (default: downloadDeadlineMs(size)). */
  deadlineMs?: number;
  /** The command's deadline: stops the transfer at once. */
  signal?: AbortSignal;
};

export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;

/**
 * How long one attempt may take: two minutes, plus the bundle at 32 KiB/s (a slow line still
 * gets there; a server dribbling bytes to hold the command queue does not).
 */
export function downloadDeadlineMs(size: number): number {
  return 120_000 + Math.ceil((size / (32 * 1024)) * 1000);
}

export function partFileOf(dir: string, sha256: string): string {
  return path.join(dir, `${sha256}.part`);
}

export async function downloadBundle(request: DownloadRequest): Promise<DownloadOutcome> {
  const { size, sha256 } = request;
  const part = partFileOf(request.dir, sha256);
  await mkdir(request.dir, { recursive: true, mode: 0o700 });
  await removeOtherDownloads(request.dir, path.basename(part));

  let have = await sizeOf(part);
  if (have > size) {
    await removeFile(part);
    have = 0;
  }
  if (have === size) {
    // A complete download that was never moved into place (killed after the last byte).
    if ((await sha256Of(part)) === sha256) return { ok: true, file: part, bytes: size, resumedFrom: size };
    await removeFile(part);
    have = 0;
  }

  const headers: Record<string, string> = { [NODE_KEY_HEADER]: request.nodeKey, "accept-encoding": "identity" };
  if (have > 0) headers.range = `bytes=${have}-`;
  const idleTimeoutMs = request.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  const deadlineMs = request.deadlineMs ?? downloadDeadlineMs(size);
  const opened = await boundedGet(request.url, headers, { idleTimeoutMs, deadlineMs, signal: request.signal });
  if (!opened.ok) return fail("download_failed", `could not reach the server: ${opened.reason}`, true);
  const response = opened.response;
  try {
    return await receive(request, response, part, have);
  } finally {
    response.close();
  }
}

async function receive(request: DownloadRequest, response: OpenedGet, part: string, have: number): Promise<DownloadOutcome> {
  const { size, sha256 } = request;
  let resumedFrom = 0;
  if (response.status === 206 && have > 0 && contentRangeStart(header(response, "content-range")) === have) {
    resumedFrom = have;
  } else if (response.status === 200) {
    have = 0;
  } else {
    if (response.status === 416 || response.status === 206) {
      // Our partial file does not fit what the server has: start over next time.
      await removeFile(part);
      return fail("download_failed", `the server could not resume the download (${response.status})`, true);
    }
    const info = parseApiError(response.status, response.statusText, await readSome(response, 4096));
    const retryable = response.status >= 500 || response.status === 408 || response.status === 429;
    return fail("download_failed", `the server answered ${response.status}: ${info.message}`, retryable);
  }

  const encoding = header(response, "content-encoding");
  if (encoding !== null && encoding.trim().toLowerCase() !== "identity") {
    // Asked for identity: encoded bytes cannot be checked against the manifest's SHA-256, and a
    // Range into them would not be a range of the bundle.
    return fail("download_failed", `the server sent the bundle ${encoding}-encoded although the node asked for the raw bytes`, false);
  }
  const announced = header(response, "content-length");
  if (announced !== null && /^\d+$/.test(announced) && have + Number(announced) > size) {
    await removeFile(part);
    return fail("oversized", `the server announced ${have + Number(announced)} bytes; the manifest says ${size}`, false);
  }

  const file = await open(part, have > 0 ? "a" : "w", 0o600);
  let received = 0;
  let outcome: DownloadFailure | null = null;
  try {
    for (;;) {
      const chunk = await response.read();
      if (chunk === null) break;
      if (have + received + chunk.length > size) {
        outcome = fail("oversized", `the server sent more than the manifest's ${size} bytes; download stopped`, false);
        break;
      }
      await file.write(chunk);
      received += chunk.length;
    }
    if (outcome === null) await file.sync();
  } catch (error) {
    const why = messageOf(error);
    outcome = fail("download_failed", `the download broke off after ${have + received} of ${size} bytes (${why})`, true);
  } finally {
    await file.close();
  }
  if (outcome !== null) {
    if (outcome.code === "oversized") await removeFile(part);
    return outcome;
  }

  const total = have + received;
  if (total !== size) {
    // Kept: the next attempt asks for the rest. A server whose bundle really is shorter ends in
    // a 416 there and the partial file is dropped.
    return fail("size_mismatch", `the download ended after ${total} bytes; the manifest says ${size}`, true);
  }
  const actual = await sha256Of(part);
  if (actual !== sha256) {
    await removeFile(part);
    // A resumed file may have begun as another copy of the bundle: one fresh try is fair.
    return fail("sha256_mismatch", `the bundle's SHA-256 is ${actual}; the manifest says ${sha256}`, resumedFrom > 0);
  }
  return { ok: true, file: part, bytes: size, resumedFrom };
}

function header(response: OpenedGet, name: string): string | null {
  const value = response.headers[name];
  return typeof value === "string" ? value : null;
}

/** At most `limit` characters of an error body; a body that never ends is cut, not waited for. */
async function readSome(response: OpenedGet, limit: number): Promise<string> {
  let text = "";
  try {
    for (let chunk = await response.read(); chunk !== null && text.length < limit; chunk = await response.read()) {
      text += chunk.toString("utf8");
    }
  } catch {
    // Whatever arrived is enough for a reason.
  }
  return text.slice(0, limit);
}

function fail(code: DownloadFailureCode, reason: string, retryable: boolean): DownloadFailure {
  return { ok: false, code, reason, retryable };
}

/** `bytes 100-199/200` → 100; anything else → null. */
function contentRangeStart(header: string | null): number | null {
  const match = header === null ? null : /^bytes (\d+)-\d+\/(?:\d+|\*)$/.exec(header.trim());
  return match ? Number(match[1]) : null;
}

async function sizeOf(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch (error) {
    if (isMissing(error)) return 0;
    throw error;
  }
}

async function removeFile(file: string): Promise<void> {
  await unlink(file).catch((error: unknown) => {
    if (!isMissing(error)) throw error;
  });
}

/** One download at a time: partial files of other releases would only fill the disk. */
async function removeOtherDownloads(dir: string, keep: string): Promise<void> {
  for (const name of await readdir(dir)) {
    if (name !== keep) await rm(path.join(dir, name), { recursive: true, force: true });
  }
}

export async function sha256Of(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}
