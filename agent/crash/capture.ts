/**
 * Last words: whatever throws out of the node program (an uncaught exception or an unhandled
 * rejection) is appended to crash.log before the process exits with code 1. Synchronous on
 * purpose: after an uncaught exception the event loop may never turn again, so an async write
 * could be lost. The supervisor restarts the node and the next start reports the record.
 * Under the supervisor the record has no EXIT line: the supervisor writes that one.
 */
import { appendFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import { formatCrashRecord } from "./crash-log.ts";
import type { CrashKind } from "./crash-log.ts";

export const CRASH_EXIT_CODE = 1;

export type CrashCaptureDeps = {
  /** Under the supervisor: leave the EXIT line to it (crash-log.ts formatExitRecord). */
  supervised?: boolean;
  now?: () => Date;
  exit?: (code: number) => void;
  stderr?: { write(text: string): unknown };
};

export function installCrashCapture(crashLog: string, deps: CrashCaptureDeps = {}): void {
  const now = deps.now ?? (() => new Date());
  const exit = deps.exit ?? ((code: number) => process.exit(code));
  const stderr = deps.stderr ?? process.stderr;
  mkdirSync(path.dirname(crashLog), { recursive: true, mode: 0o700 });

  let dying = false;
  const die = (kind: CrashKind, thrown: unknown): void => {
    // A second error thrown while we record the first must not write a second, half record.
    if (dying) return;
    dying = true;
    const record = formatCrashRecord(kind, thrown, now(), deps.supervised ? null : CRASH_EXIT_CODE);
    try {
      appendFileSync(crashLog, record, { mode: 0o600 });
    } catch (error) {
      stderr.write(`buhdi-node: could not write ${crashLog}: ${String(error)}\n`);
    }
    stderr.write(record);
    exit(CRASH_EXIT_CODE);
  };

  process.on("uncaughtException", (error, origin) => {
    // With --unhandled-rejections=strict a rejection arrives here instead; keep its real name.
    die(origin === "unhandledRejection" ? "UNHANDLED_REJECTION" : "UNCAUGHT", error);
  });
  process.on("unhandledRejection", (reason) => die("UNHANDLED_REJECTION", reason));
}
