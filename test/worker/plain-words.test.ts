/** Nana's view says what happened in plain words: no ids, no stack traces, the fix's version at most. */
import { describe, expect, it } from "vitest";
import { type Decision, type HistoryRow, historyWords, problemWords, statusWords } from "../../worker/dashboard/plain-words.ts";

const at = new Date("2026-12-01T09:13:00Z");
const crash: HistoryRow = { id: "t1", nodeId: "n1", type: "crash_report", createdAt: at, payload: "{}" };
const decision = (over: Partial<Decision>): Decision => ({
  telemetryId: "t1",
  action: "software_update",
  state: "pending",
  fixVersion: "0.3.1",
  ticketStatus: null,
  ...over,
});
const text = (w: { before: string; at: Date | null; after: string } | null) =>
  w ? `${w.before}${w.at ? w.at.toISOString().slice(11, 16) : ""}${w.after}` : null;

describe("plain words", () => {
  it("say a computer is working, asleep with when it was last seen, or offline since when", () => {
    expect(text(statusWords({ status: "online", last_seen: at.toISOString() }))).toBe("Working normally");
    expect(text(statusWords({ status: "asleep", last_seen: at.toISOString() }))).toBe("Asleep — last seen at 09:13");
    expect(text(statusWords({ status: "offline", last_seen: "2026-12-01T14:02:00Z" }))).toBe("Offline since 14:02");
    expect(text(statusWords({ status: "offline", last_seen: null }))).toBe("Not connected yet");
  });

  it("say a problem was fixed automatically with the update's version once the fix is verified", () => {
    const words = problemWords([crash], [decision({ state: "verified" })], at.getTime() + 60_000);
    expect(text(words)).toBe("Had a problem at 09:13 — fixed automatically (update 0.3.1)");
  });

  it("say a fix is on its way while it is pending, and that we are looking into an open ticket", () => {
    expect(text(problemWords([crash], [decision({})], at.getTime()))).toBe("Had a problem at 09:13 — a fix is on its way");
    expect(text(problemWords([crash], [decision({ action: "ticket", state: "open", ticketStatus: "open" })], at.getTime()))).toBe(
      "We're looking into a problem",
    );
  });

  it("leave a fixed problem off the card after a day but keep it in the 30-day history", () => {
    const later = at.getTime() + 2 * 86400_000;
    expect(problemWords([crash], [decision({ state: "verified" })], later)).toBeNull();
    const offline: HistoryRow = {
      id: "t2",
      nodeId: "n1",
      type: "node_back_online",
      createdAt: at,
      payload: JSON.stringify({ details: { downtime_s: 720 } }),
    };
    expect(historyWords([offline, crash], [decision({ state: "verified" })]).map(text)).toEqual([
      "Back online at 09:13 after 12 minutes",
      "Had a problem at 09:13 — fixed automatically (update 0.3.1)",
    ]);
  });

  it("say a removed computer was removed, on which day", () => {
    const words = statusWords({ status: "retired", last_seen: at.toISOString(), retired_at: "2026-12-02T10:30:00.000Z" });
    expect(words).toMatchObject({ before: "Removed from this computer on ", withDate: true, tone: "calm" });
    expect(words.at?.toISOString()).toBe("2026-12-02T10:30:00.000Z");
  });

  it("say a computer went to sleep and woke up, calmly, when it slept through an outage; offline otherwise", () => {
    const row = (type: string, details: Record<string, unknown>): HistoryRow => ({
      id: type,
      nodeId: "n1",
      type,
      createdAt: new Date("2026-12-01T22:05:00Z"),
      payload: JSON.stringify({ type, details }),
    });
    const slept = historyWords(
      [
        row("node_back_online", { downtime_s: 8 * 3600, asleep: true }),
        row("node_offline", { last_seen_at: "2026-12-01T22:03:00.000Z", asleep: true }),
      ],
      [],
    );
    expect(slept.map(text)).toEqual(["Woke up at 22:05 after 480 minutes asleep", "Went to sleep at 22:03"]);
    expect(slept.map((w) => w.tone)).toEqual(["good", "calm"]);
    const lost = historyWords([row("node_offline", { last_seen_at: "2026-12-01T22:03:00.000Z" })], []);
    expect(lost.map(text)).toEqual(["Went offline at 22:05"]);
    expect(lost[0]?.tone).toBe("attention");
  });
});
