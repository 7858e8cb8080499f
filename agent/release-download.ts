/**
 * Fetches a release bundle into downloads/<sha256>.part, trusting nothing the server says:
 *   - the manifest's size is the limit: a Content-Length above it is refused before the body is
 *     read, and the transfer is cut the moment more bytes than `size` have arrived (an endless
 *     stream costs us size + one chunk, never a full disk);
 *   - a body that stops sending for idleTimeoutMs is cut too (a trickle must not hold the
 *     command queue forever);
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
import { NODE_KEY_HEADER } from "../protocol/index.ts";
import { describeNetworkError, readApiError } from "./api-error.ts";
import { isMissing } from "./fs-errors.ts";

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
  fetchImpl?: typeof fetch;
  /** No byte for this long: the transfer is cut (default 30 s). */
  idleTimeoutMs?: number;
};

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

  const abort = new AbortController();
  const headers: Record<string, string> = { [NODE_KEY_HEADER]: request.nodeKey };
  if (have > 0) headers.range = `bytes=${have}-`;
  let response: Response;
  try {
    response = await (request.fetchImpl ?? fetch)(request.url, { headers, signal: abort.signal });
  } catch (error) {
    return fail("download_failed", `could not reach the server: ${describeNetworkError(error)}`, true);
  }

  let resumedFrom = 0;
  if (response.status === 206 && have > 0 && contentRangeStart(response.headers.get("content-range")) === have) {
    resumedFrom = have;
  } else if (response.status === 200) {
    have = 0;
  } else {
    await response.body?.cancel().catch(() => undefined);
    if (response.status === 416 || response.status === 206) {
      // Our partial file does not fit what the server has: start over next time.
      await removeFile(part);
      return fail("download_failed", `the server could not resume the download (${response.status})`, true);
    }
    const info = await readApiError(response);
    const retryable = response.status >= 500 || response.status === 408 || response.status === 429;
    return fail("download_failed", `the server answered ${response.status}: ${info.message}`, retryable);
  }

  const announced = response.headers.get("content-length");
  if (announced !== null && /^\d+$/.test(announced) && have + Number(announced) > size) {
    abort.abort();
    await removeFile(part);
    return fail("oversized", `the server announced ${have + Number(announced)} bytes; the manifest says ${size}`, false);
  }

  const file = await open(part, have > 0 ? "a" : "w", 0o600);
  let received = 0;
  let idleTimer: NodeJS.Timeout | null = null;
  const idleMs = request.idleTimeoutMs ?? 30_000;
  const armIdle = (): void => {
    if (idleTimer) clearTimeout(idleTimer);
    idleTimer = setTimeout(() => abort.abort(new Error(`no data for ${Math.round(idleMs / 1000)} s`)), idleMs);
  };
  let outcome: DownloadFailure | null = null;
  try {
    if (!response.body) throw new Error("the response has no body");
    const reader = response.body.getReader();
    armIdle();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      armIdle();
      if (have + received + value.length > size) {
        abort.abort();
        await reader.cancel().catch(() => undefined);
        outcome = fail("oversized", `the server sent more than the manifest's ${size} bytes; download stopped`, false);
        break;
      }
      await file.write(value);
      received += value.length;
    }
    if (outcome === null) await file.sync();
  } catch (error) {
    const why = abort.signal.reason instanceof Error && abort.signal.aborted ? abort.signal.reason.message : describeNetworkError(error);
    outcome = fail("download_failed", `the download broke off after ${have + received} of ${size} bytes (${why})`, true);
  } finally {
    if (idleTimer) clearTimeout(idleTimer);
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
