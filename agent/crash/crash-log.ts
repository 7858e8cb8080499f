/**
 * The crash.log file: the record format the crash capture appends, and the rotation that runs
 * only after the cloud has accepted a report. Rotation is written so that a kill at any instant
 * loses no crash line: it checks that crash.log still starts with the exact bytes that were
 * reported (by length + sha256) before moving them to crash.log.prev, and it keeps whatever was
 * appended after them.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { inspect } from "node:util";
import { writeFileAtomic } from "../core/atomic-file.ts";
import { isMissing } from "../core/fs-errors.ts";

export type CrashKind = "UNCAUGHT" | "UNHANDLED_REJECTION";

/** Which bytes of crash.log a report was made from, so rotation moves exactly those. */
export type CrashLogCoverage = { covers_bytes: number; sha256: string };

export function describeThrown(thrown: unknown): string {
  if (thrown instanceof Error) return typeof thrown.stack === "string" && thrown.stack !== "" ? thrown.stack : String(thrown);
  // A rejected plain object would print as "[object Object]"; inspect keeps what it held.
  if (typeof thrown === "object" && thrown !== null) return inspect(thrown, { depth: 3, breakLength: Infinity });
  return String(thrown);
}

/**
 * exitCode null: the program runs under the supervisor, which appends the EXIT line itself (with
 * the real code or signal and the time), so each death has exactly one EXIT line.
 */
export function formatCrashRecord(kind: CrashKind, thrown: unknown, at: Date, exitCode: number | null): string {
  const record = `[${at.toISOString()}] ${kind}: ${describeThrown(thrown)}\n`;
  return exitCode === null ? record : `${record}EXIT code=${exitCode}\n`;
}

/**
 * The supervisor's line for a node program that died: always written, also when the program
 * could not write anything itself (SIGKILL, out of memory, a native crash, a broken install).
 * It names the version that died: the report may be sent later by another version (after an
 * update, or a crash loop's held report), and the cloud must blame the one that crashed.
 */
export function formatExitRecord(at: Date, exit: { code: number | null; signal: string | null }, ranMs: number, version: string): string {
  return `[${at.toISOString()}] EXIT code=${exit.code} signal=${exit.signal} after ${(ranMs / 1000).toFixed(1)} s on ${version}\n`;
}

const EXIT_VERSION = /\bEXIT code=\S+ signal=\S+ after [\d.]+ s on (\S+)\s*$/;

/** The version named by the newest EXIT line, or null (no EXIT line, or one from an older agent). */
export function versionThatCrashed(lines: readonly string[]): string | null {
  for (let i = lines.length - 1; i >= 0; i--) {
    if (!lines[i]!.includes("EXIT")) continue;
    const match = EXIT_VERSION.exec(lines[i]!);
    if (match) return match[1]!;
  }
  return null;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** crash.log's bytes, or an empty buffer when there is none yet. */
export async function readCrashLog(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    if (isMissing(error)) return Buffer.alloc(0);
    throw error;
  }
}

export function coverageOf(bytes: Buffer): CrashLogCoverage {
  return { covers_bytes: bytes.length, sha256: sha256Hex(bytes) };
}

export type RotationResult = "rotated" | "already-rotated";

/**
 * Moves the reported bytes to crash.log.prev (replacing it) and leaves the rest in crash.log.
 * "already-rotated" means crash.log no longer starts with those bytes (a previous run rotated and
 * was killed before it could delete the spool entry): nothing is touched then.
 */
export async function rotateCrashLog(crashLog: string, crashLogPrev: string, coverage: CrashLogCoverage): Promise<RotationResult> {
  const current = await readCrashLog(crashLog);
  if (current.length < coverage.covers_bytes) return "already-rotated";
  const reported = current.subarray(0, coverage.covers_bytes);
  if (sha256Hex(reported) !== coverage.sha256) return "already-rotated";
  // .prev first: if we die between the two writes, crash.log still holds the bytes and the
  // retried report (answered 200, same event_id) rotates again with the same result.
  await writeFileAtomic(crashLogPrev, reported, 0o600);
  await writeFileAtomic(crashLog, current.subarray(coverage.covers_bytes), 0o600);
  return "rotated";
}
