/**
 * Nana's view in plain words: what each computer is doing and what happened to it, with no ids,
 * stack traces or jargon beyond a version number. Pure functions of what the edge knows, so the
 * wording is tested without a browser.
 */
import type { LiveStatus } from "../node-session/node-session.ts";

export type Decision = {
  telemetryId: string;
  action: string;
  state: string;
  fixVersion: string | null;
  ticketStatus: "open" | "closed" | null;
};

export type HistoryRow = { id: string; nodeId: string; type: string; createdAt: Date; payload: string };

/** A sentence with at most one time in it, rendered by the view as a <time> (with its date if withDate). */
export type Words = { before: string; at: Date | null; after: string; tone: "good" | "calm" | "attention"; withDate?: boolean };

export function statusWords(live: Pick<LiveStatus, "status" | "last_seen"> & { retired_at?: string | null }): Words {
  const lastSeen = live.last_seen ? new Date(live.last_seen) : null;
  switch (live.status) {
    case "retired":
      return live.retired_at
        ? { before: "Removed from this computer on ", at: new Date(live.retired_at), after: "", tone: "calm", withDate: true }
        : { before: "Removed from this computer", at: null, after: "", tone: "calm" };
    case "online":
      return { before: "Working normally", at: null, after: "", tone: "good" };
    case "degraded":
      return { before: "Working normally, on a weak internet connection", at: null, after: "", tone: "good" };
    case "asleep":
      return lastSeen
        ? { before: "Asleep — last seen at ", at: lastSeen, after: "", tone: "calm" }
        : { before: "Asleep", at: null, after: "", tone: "calm" };
    case "offline":
      return lastSeen
        ? { before: "Offline since ", at: lastSeen, after: "", tone: "attention" }
        : { before: "Not connected yet", at: null, after: "", tone: "calm" };
  }
}

function fixWords(decisions: Decision[]): { after: string; open: boolean } {
  if (decisions.some((d) => d.ticketStatus === "open" || ["open", "regressed", "waiting_for_release"].includes(d.state))) {
    return { after: " — we're looking into it", open: true };
  }
  const verified = decisions.find((d) => d.state === "verified");
  if (verified)
    return {
      after: verified.fixVersion ? ` — fixed automatically (update ${verified.fixVersion})` : " — fixed automatically",
      open: false,
    };
  if (decisions.some((d) => d.state === "pending")) return { after: " — a fix is on its way", open: true };
  if (decisions.some((d) => d.state === "recorded")) return { after: " — it sorted itself out", open: false };
  return { after: " — we're checking it", open: true };
}

/** The problem line on a computer's card: an open one, or one from the last day; null when there is none. */
export function problemWords(history: HistoryRow[], decisions: Decision[], now: number): Words | null {
  const crash = history.find((h) => h.type === "crash_report" || h.type === "update_rolled_back");
  if (!crash) return null;
  const mine = decisions.filter((d) => d.telemetryId === crash.id);
  const fix = fixWords(mine);
  if (fix.open && mine.some((d) => d.ticketStatus === "open" || d.state === "open")) {
    return { before: "We're looking into a problem", at: null, after: "", tone: "attention" };
  }
  if (!fix.open && now - crash.createdAt.getTime() > 24 * 3600_000) return null;
  return { before: "Had a problem at ", at: crash.createdAt, after: fix.after, tone: fix.open ? "attention" : "good" };
}

/** The 30-day history of one computer, newest first, in the same words. */
export function historyWords(history: HistoryRow[], decisions: Decision[]): Words[] {
  const words: Words[] = [];
  for (const row of history) {
    if (row.type === "crash_report" || row.type === "update_rolled_back") {
      const fix = fixWords(decisions.filter((d) => d.telemetryId === row.id));
      words.push({ before: "Had a problem at ", at: row.createdAt, after: fix.after, tone: fix.open ? "attention" : "good" });
    } else if (row.type === "node_back_online") {
      const minutes = downtimeMinutes(row.payload);
      const after = minutes === null ? "" : ` after ${minutes}`;
      words.push(
        wasAsleep(row.payload)
          ? { before: "Woke up at ", at: row.createdAt, after: minutes === null ? "" : ` after ${minutes} asleep`, tone: "good" }
          : { before: "Back online at ", at: row.createdAt, after, tone: "good" },
      );
    } else if (row.type === "node_offline") {
      // The node said afterwards that it slept through this silence: nothing went wrong.
      words.push(
        wasAsleep(row.payload)
          ? { before: "Went to sleep at ", at: lastSeenAt(row.payload) ?? row.createdAt, after: "", tone: "calm" }
          : { before: "Went offline at ", at: row.createdAt, after: "", tone: "attention" },
      );
    }
  }
  return words;
}

function wasAsleep(payload: string): boolean {
  try {
    return (JSON.parse(payload) as { details?: { asleep?: unknown } }).details?.asleep === true;
  } catch {
    return false;
  }
}

/** When the node was last heard before an outage (the sleep began about then). */
function lastSeenAt(payload: string): Date | null {
  try {
    const seen = (JSON.parse(payload) as { details?: { last_seen_at?: unknown } }).details?.last_seen_at;
    const at = typeof seen === "string" ? new Date(seen) : null;
    return at && !Number.isNaN(at.getTime()) ? at : null;
  } catch {
    return null;
  }
}

function downtimeMinutes(payload: string): string | null {
  try {
    const details = (JSON.parse(payload) as { details?: { downtime_s?: unknown } }).details;
    const seconds = typeof details?.downtime_s === "number" ? details.downtime_s : null;
    if (seconds === null) return null;
    const minutes = Math.max(1, Math.round(seconds / 60));
    return minutes === 1 ? "about a minute" : `${minutes} minutes`;
  } catch {
    return null;
  }
}
