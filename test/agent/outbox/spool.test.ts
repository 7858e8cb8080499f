import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { TelemetryEvent } from "../../../protocol/index.ts";
import { deliverEntry, flushSpool } from "../../../agent/outbox/delivery.ts";
import type { DeliveryDeps } from "../../../agent/outbox/delivery.ts";
import { addEntry, listEntries } from "../../../agent/outbox/spool.ts";
import type { Spool } from "../../../agent/outbox/spool.ts";
import type { SendOutcome, SendTelemetry } from "../../../agent/outbox/telemetry-client.ts";
import { tempHome } from "../../support/helpers.ts";

const NOW = Date.parse("2026-11-28T13:00:00.000Z");

function event(id: string, type: TelemetryEvent["type"] = "connection_degraded"): TelemetryEvent {
  return {
    event_id: id,
    type,
    entries: type === "crash_report" ? ["boom"] : [],
    node_version: "0.3.0",
    os: "linux",
    arch: "x64",
    uptime_before_crash: null,
    timestamp: new Date(NOW).toISOString(),
    details: { failure_count: 5 },
  };
}

const ID_A = "00000000-0000-4000-8000-00000000000a";
const ID_B = "00000000-0000-4000-8000-00000000000b";

async function newSpool(): Promise<Spool & { messages: string[] }> {
  const home = await tempHome();
  const messages: string[] = [];
  return { dir: path.join(home, "spool"), rejectedDir: path.join(home, "spool", "rejected"), log: (m) => messages.push(m), messages };
}

/** Stands in for the HTTP client: these tests pin the spool's bookkeeping, not the wire. */
function sender(outcomes: SendOutcome[]): SendTelemetry & { sent: TelemetryEvent[] } {
  const sent: TelemetryEvent[] = [];
  const send = async (e: TelemetryEvent): Promise<SendOutcome> => {
    sent.push(e);
    const outcome = outcomes.shift();
    if (!outcome) throw new Error("unexpected send");
    return outcome;
  };
  return Object.assign(send, { sent });
}

const retry = (retryAfterMs: number | null = null): SendOutcome => ({
  kind: "retry",
  reason: "503: down",
  retryAfterMs,
  unreachable: false,
});
const unreachable: SendOutcome = { kind: "retry", reason: "could not reach: ETIMEDOUT", retryAfterMs: null, unreachable: true };

describe("spool storage", () => {
  it("keeps one JSON file per event, oldest first, with its retry state", async () => {
    const spool = await newSpool();
    await addEntry(spool, event(ID_B), { now: NOW + 1 });
    await addEntry(spool, event(ID_A), { now: NOW });
    const entries = await listEntries(spool);
    expect(entries.map((e) => e.event.event_id)).toEqual([ID_A, ID_B]);
    expect(entries[0]).toMatchObject({ attempts: 0, not_before: null, crash_log: null, next_attempt_at: new Date(NOW).toISOString() });
    expect(await readdir(spool.dir)).toHaveLength(2);
  });

  it("leaves no temp file behind and ignores one left by a killed writer", async () => {
    const spool = await newSpool();
    await addEntry(spool, event(ID_A), { now: NOW });
    expect((await readdir(spool.dir)).filter((n) => n.endsWith(".tmp"))).toEqual([]);
    await writeFile(path.join(spool.dir, `.0000000000000-${ID_B}.json.123.abcd.tmp`), "{ half a fi");
    expect((await listEntries(spool)).map((e) => e.event.event_id)).toEqual([ID_A]);
  });

  it("moves a damaged file to spool/rejected instead of choking on it", async () => {
    const spool = await newSpool();
    await mkdir(spool.dir, { recursive: true });
    await writeFile(path.join(spool.dir, "1795870000000-garbage.json"), "not json");
    expect(await listEntries(spool)).toEqual([]);
    expect(await readdir(spool.rejectedDir)).toEqual(["1795870000000-garbage.json"]);
    expect(spool.messages.join("\n")).toMatch(/damaged/);
  });

  it.skipIf(process.platform === "win32")("stores entries readable only by the owner", async () => {
    const spool = await newSpool();
    const entry = await addEntry(spool, event(ID_A), { now: NOW });
    expect((await stat(path.join(spool.dir, `${entry.id}.json`))).mode & 0o777).toBe(0o600);
  });
});

function deps(spool: Spool, send: SendTelemetry, now = NOW, extra: Partial<DeliveryDeps> = {}): DeliveryDeps {
  return { spool, send, now: () => now, random: () => 0.5, ...extra };
}

describe("spool delivery bookkeeping", () => {
  it("a failed send keeps the entry, counts the attempt and schedules the next one with backoff", async () => {
    const spool = await newSpool();
    const entry = await addEntry(spool, event(ID_A), { now: NOW });
    expect(await deliverEntry(deps(spool, sender([retry()])), entry)).toBe("retry");
    const [stored] = await listEntries(spool);
    expect(stored).toMatchObject({ attempts: 1, last_error: "503: down", not_before: null });
    expect(Date.parse(stored!.next_attempt_at)).toBe(NOW + 2_500); // half of the 5 s window
  });

  it("a retried event is sent with the same event_id every time", async () => {
    const spool = await newSpool();
    await addEntry(spool, event(ID_A), { now: NOW });
    const send = sender([retry(), retry(), retry()]);
    for (let i = 0; i < 3; i++) await flushSpool(deps(spool, send, NOW + i * 3_600_000));
    expect(send.sent.map((e) => e.event_id)).toEqual([ID_A, ID_A, ID_A]);
    expect((await listEntries(spool))[0]?.attempts).toBe(3);
  });

  it("a pass stops at the first entry that finds the cloud unreachable (one timeout, not one per entry)", async () => {
    const spool = await newSpool();
    await addEntry(spool, event(ID_A), { now: NOW - 2 });
    await addEntry(spool, event(ID_B), { now: NOW - 1 });
    const send = sender([unreachable]);
    const summary = await flushSpool(deps(spool, send));
    expect(send.sent.map((e) => e.event_id)).toEqual([ID_A]);
    expect(summary.unreachable).toBe(true);
    expect(summary.pending.map((e) => [e.event.event_id, e.attempts])).toEqual([
      [ID_A, 1],
      [ID_B, 0],
    ]);
  });

  it("a server error does not stop the pass: the next entry may still be accepted", async () => {
    const spool = await newSpool();
    await addEntry(spool, event(ID_A), { now: NOW - 2 });
    await addEntry(spool, event(ID_B), { now: NOW - 1 });
    const send = sender([retry(), retry()]);
    expect((await flushSpool(deps(spool, send))).unreachable).toBe(false);
    expect(send.sent.map((e) => e.event_id)).toEqual([ID_A, ID_B]);
  });

  it("an entry is not sent before its next attempt time", async () => {
    const spool = await newSpool();
    await addEntry(spool, event(ID_A), { now: NOW });
    await flushSpool(deps(spool, sender([retry()])));
    const send = sender([]);
    const summary = await flushSpool(deps(spool, send, NOW + 2_499));
    expect(send.sent).toEqual([]);
    expect(summary.pending).toHaveLength(1);
  });

  it("a Retry-After is honoured even by a manual report that skips the backoff", async () => {
    const spool = await newSpool();
    await addEntry(spool, event(ID_A), { now: NOW });
    await flushSpool(deps(spool, sender([retry(60_000)])));
    expect((await listEntries(spool))[0]?.not_before).toBe(new Date(NOW + 60_000).toISOString());
    const early = sender([]);
    await flushSpool(deps(spool, early, NOW + 59_000), true);
    expect(early.sent).toEqual([]);
    const onTime = sender([retry()]);
    await flushSpool(deps(spool, onTime, NOW + 60_000), true);
    expect(onTime.sent).toHaveLength(1);
  });

  it("a refused event leaves the retry loop and is kept in spool/rejected with the reason", async () => {
    const spool = await newSpool();
    const entry = await addEntry(spool, event(ID_A), { now: NOW });
    const rejected: string[] = [];
    const result = await deliverEntry(
      deps(spool, sender([{ kind: "rejected", status: 400, reason: "400: bad body" }]), NOW, {
        afterRejected: async (e) => void rejected.push(e.event.event_id),
      }),
      entry,
    );
    expect(result).toBe("rejected");
    expect(rejected).toEqual([ID_A]);
    expect(await listEntries(spool)).toEqual([]);
    const kept = JSON.parse(await readFile(path.join(spool.rejectedDir, `${entry.id}.json`), "utf8")) as { last_error: string };
    expect(kept.last_error).toBe("400: bad body");
    expect(spool.messages.join("\n")).toMatch(/refused/);
  });

  it("a delivered entry is deleted only after its owner's follow-up finished", async () => {
    const spool = await newSpool();
    const entry = await addEntry(spool, event(ID_A), { now: NOW });
    let seenWhileFinishing: number | null = null;
    const delivered: SendOutcome = { kind: "delivered", id: "t1", severity: "warning", duplicate: false };
    await deliverEntry(
      deps(spool, sender([delivered]), NOW, {
        afterDelivered: async () => {
          seenWhileFinishing = (await listEntries(spool)).length;
        },
      }),
      entry,
    );
    expect(seenWhileFinishing).toBe(1);
    expect(await listEntries(spool)).toEqual([]);
  });

  it("a follow-up that fails keeps the entry for a retry (which the cloud will answer 200)", async () => {
    const spool = await newSpool();
    const entry = await addEntry(spool, event(ID_A), { now: NOW });
    const delivered: SendOutcome = { kind: "delivered", id: "t1", severity: "warning", duplicate: false };
    const result = await deliverEntry(
      deps(spool, sender([delivered]), NOW, { afterDelivered: () => Promise.reject(new Error("disk full")) }),
      entry,
    );
    expect(result).toBe("retry");
    expect((await listEntries(spool))[0]).toMatchObject({ attempts: 1, last_error: expect.stringContaining("disk full") });
  });
});
