/**
 * Every upload of the node program goes through here, one pass at a time: the retry timer, a
 * new event (connection_degraded) and the cloud coming back all ask for a pass, and a request
 * that arrives during a pass gets one more pass after it, never a second one alongside (two at
 * once could send the same spool entry twice and race on deleting it). A pass is the crash
 * reporter's: flush the spool, then report crash.log as the crash-loop plan allows.
 */
import type { TelemetryEvent } from "../../protocol/index.ts";
import type { CrashReporter, ReportOptions } from "../crash/reporter.ts";
import { addEntry } from "./spool.ts";
import type { Spool } from "./spool.ts";
import { messageOf } from "../core/errors.ts";

export type Outbox = {
  /** Resolves when a pass that started after this call has finished. Never rejects. */
  pass(options?: { ignoreBackoff?: boolean }): Promise<void>;
  /** Spools the event (so it survives anything), then asks for a pass. */
  add(event: TelemetryEvent): Promise<void>;
  /** Spools the event and resolves once it is on disk; the pass it asks for runs on its own. */
  enqueue(event: TelemetryEvent): Promise<void>;
};

export type OutboxDeps = {
  reporter: CrashReporter;
  spool: Spool;
  /** What this pass may do with crash.log (crash/loop.ts); asked at the start of each pass. */
  plan: () => Pick<ReportOptions, "snapshot" | "details">;
  now: () => number;
  log: (message: string) => void;
};

export function createOutbox(deps: OutboxDeps): Outbox {
  let chain: Promise<void> = Promise.resolve();
  /** The pass that is waiting to start: later requests join it instead of queueing another. */
  let waiting: { ignoreBackoff: boolean; promise: Promise<void> } | null = null;

  const runPass = async (ignoreBackoff: boolean): Promise<void> => {
    try {
      await deps.reporter.report({ ignoreBackoff, ...deps.plan() });
    } catch (error) {
      // Reporting trouble (a disk hiccup) must never stop the node: the next pass tries again.
      deps.log(`reporting failed, will try again: ${messageOf(error)}`);
    }
  };

  const pass = (options: { ignoreBackoff?: boolean } = {}): Promise<void> => {
    const ignoreBackoff = options.ignoreBackoff ?? false;
    if (waiting) {
      waiting.ignoreBackoff ||= ignoreBackoff;
      return waiting.promise;
    }
    const entry: { ignoreBackoff: boolean; promise: Promise<void> } = { ignoreBackoff, promise: Promise.resolve() };
    entry.promise = chain.then(() => {
      waiting = null;
      return runPass(entry.ignoreBackoff);
    });
    waiting = entry;
    chain = entry.promise;
    return entry.promise;
  };

  const spool = async (event: TelemetryEvent): Promise<boolean> => {
    try {
      await addEntry(deps.spool, event, { now: deps.now() });
      return true;
    } catch (error) {
      deps.log(`could not spool ${event.type}: ${messageOf(error)}`);
      return false;
    }
  };

  return {
    pass,
    async add(event) {
      if (await spool(event)) await pass();
    },
    async enqueue(event) {
      if (await spool(event)) void pass();
    },
  };
}
