/**
 * The outbox runs one reporting pass at a time: passes asked for during a pass are merged into
 * one follow-up pass, and a spooled event is on disk before any pass tries to send it.
 */
import { describe, expect, it } from "vitest";
import type { CrashReporter, ReportOptions } from "../../../agent/crash/reporter.ts";
import { createOutbox } from "../../../agent/outbox/outbox.ts";
import { listEntries } from "../../../agent/outbox/spool.ts";
import { buildDegradedReport } from "../../../agent/link/degraded-report.ts";
import { homePaths } from "../../../agent/core/paths.ts";
import { tempHome } from "../../support/helpers.ts";
import { eventually } from "../../support/live-node.ts";

function slowReporter() {
  const calls: ReportOptions[] = [];
  let active = 0;
  let maxActive = 0;
  const releases: Array<() => void> = [];
  const reporter: CrashReporter = {
    async report(options = {}) {
      calls.push(options);
      active += 1;
      maxActive = Math.max(maxActive, active);
      await new Promise<void>((resolve) => releases.push(resolve));
      active -= 1;
      return { delivered: 0, rejected: 0, pending: [] };
    },
  };
  /** Lets every pass finish (each waits to be released) until `until` has settled. */
  const settle = async (until: Promise<unknown>) => {
    let done = false;
    void until.then(() => (done = true));
    while (!done) {
      for (const release of releases.splice(0)) release();
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  };
  return { reporter, calls, maxActive: () => maxActive, settle };
}

async function spool() {
  const paths = homePaths(await tempHome());
  return { dir: paths.spool, rejectedDir: paths.rejected, log: () => undefined };
}

describe("outbox", () => {
  it("never runs two passes at once, and merges requests made during a pass into one follow-up", async () => {
    const r = slowReporter();
    const outbox = createOutbox({
      reporter: r.reporter,
      spool: await spool(),
      plan: () => ({ snapshot: true }),
      now: Date.now,
      log: () => undefined,
    });
    const first = outbox.pass();
    await new Promise((resolve) => setTimeout(resolve, 1));
    const waiting = [outbox.pass(), outbox.pass({ ignoreBackoff: true }), outbox.pass()];
    await r.settle(Promise.all([first, ...waiting]));
    expect(r.maxActive()).toBe(1);
    expect(r.calls).toHaveLength(2);
    // The follow-up keeps the strongest request it merged.
    expect(r.calls[1]).toMatchObject({ ignoreBackoff: true });
  });

  it("each pass asks the crash-loop plan what it may do at that moment", async () => {
    const r = slowReporter();
    let snapshot = false;
    const outbox = createOutbox({
      reporter: r.reporter,
      spool: await spool(),
      plan: () => ({ snapshot }),
      now: Date.now,
      log: () => undefined,
    });
    await r.settle(outbox.pass());
    snapshot = true;
    await r.settle(outbox.pass());
    expect(r.calls.map((c) => c.snapshot)).toEqual([false, true]);
  });

  it("a failing pass is logged and does not break the next one", async () => {
    const logs: string[] = [];
    let calls = 0;
    const reporter: CrashReporter = {
      async report() {
        calls += 1;
        if (calls === 1) throw new Error("EIO");
        return { delivered: 0, rejected: 0, pending: [] };
      },
    };
    const outbox = createOutbox({
      reporter,
      spool: await spool(),
      plan: () => ({ snapshot: true }),
      now: Date.now,
      log: (m) => logs.push(m),
    });
    await outbox.pass();
    await outbox.pass();
    expect(calls).toBe(2);
    expect(logs.join("\n")).toMatch(/EIO/);
  });

  it("add() spools the event before the pass that sends it", async () => {
    const dir = await spool();
    const seenInSpool: string[] = [];
    const reporter: CrashReporter = {
      async report() {
        seenInSpool.push(...(await listEntries(dir)).map((e) => e.event.type));
        return { delivered: 0, rejected: 0, pending: [] };
      },
    };
    const outbox = createOutbox({ reporter, spool: dir, plan: () => ({ snapshot: true }), now: Date.now, log: () => undefined });
    const event = buildDegradedReport(
      { failure_count: 5, last_connected: null },
      { version: "0.3.0", platform: "linux", arch: "x64", now: new Date() },
    );
    await outbox.add(event);
    expect(seenInSpool).toEqual(["connection_degraded"]);
  });

  it("enqueue() resolves once the event is on disk, without waiting for a pass that hangs (an update must not wait on the network)", async () => {
    const dir = await spool();
    const r = slowReporter(); // its passes never end until released
    const outbox = createOutbox({
      reporter: r.reporter,
      spool: dir,
      plan: () => ({ snapshot: true }),
      now: Date.now,
      log: () => undefined,
    });
    const event = buildDegradedReport(
      { failure_count: 5, last_connected: null },
      { version: "0.3.0", platform: "linux", arch: "x64", now: new Date() },
    );
    await outbox.enqueue(event);
    expect((await listEntries(dir)).map((e) => e.event.event_id)).toEqual([event.event_id]);
    await eventuallyTrue(() => r.calls.length === 1);
    await r.settle(outbox.pass());
  });
});

async function eventuallyTrue(check: () => boolean): Promise<void> {
  await eventually(check, (ok) => ok, 5_000, "the outbox's condition", 5);
}

describe("the connection_degraded report", () => {
  it("is a valid telemetry event carrying the failure count and the last connection time", () => {
    const event = buildDegradedReport(
      { failure_count: 5, last_connected: "2026-11-28T12:59:00.000Z" },
      {
        version: "0.3.0",
        platform: "win32",
        arch: "x64",
        now: new Date("2026-11-28T13:00:00.000Z"),
        eventId: "6f1c1f5e-8d0a-4d6e-9b1e-2a3c4d5e6f70",
      },
    );
    expect(event).toEqual({
      event_id: "6f1c1f5e-8d0a-4d6e-9b1e-2a3c4d5e6f70",
      type: "connection_degraded",
      entries: [],
      node_version: "0.3.0",
      os: "win32",
      arch: "x64",
      uptime_before_crash: null,
      timestamp: "2026-11-28T13:00:00.000Z",
      details: { failure_count: 5, last_connected: "2026-11-28T12:59:00.000Z" },
    });
  });
});
