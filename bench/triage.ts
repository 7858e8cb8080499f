/**
 * Triage throughput: crash reports through the real queue consumer per second
 * with 200 extra enabled known-issue patterns (none of which match, so every
 * report is checked against all of them — the worst case for matching).
 *
 * The reports are ingested as fast as the edge takes them (BENCH_CONNECTIONS senders, as many
 * as the ingest part's connections) while the consumer triages them in the same workerd; the
 * clock runs from the first report sent to the last one triaged (its resolution row visible
 * through the support API), so it includes the local queue's delivery. When triage keeps up,
 * the last report is triaged moments after the last one is sent and the rate is ingest's own:
 * triage_ratio_vs_ingest (bench/report.ts) then sits near 1; it falls below 1 by as much as
 * triage lags. Its edges run on Miniflare directly, like the ingest part's it is compared with.
 */
import { randomUUID } from "node:crypto";
import type { LocalEdge } from "../scripts/local-edge.ts";
import { compilePattern, compilePatternList } from "../worker/triage/pattern.ts";
import { startEdge, stopEdge } from "./edges.ts";
import { enrollFleet } from "./fleet.ts";
import { log, positiveInt } from "./settings.ts";

export type TriageFigures = {
  triage_reports_per_s: number;
  triage_patterns: number;
  triage_reports: number;
  triage_seconds: number;
  /** Matching alone (in this Node process, same V8 as workerd): µs per report with every pattern tried one by one, and in one pass. */
  triage_match_us_one_by_one: number;
  triage_match_us_one_pass: number;
  /** Reports/s the senders got accepted in the same part, while triage ran in the same workerd. */
  triage_sent_per_s: number;
  /** Seconds from the last report accepted to the last one triaged: how far triage trailed ingest. */
  triage_lag_s: number;
};

const EXTRA_PATTERNS = 200;
const extraPattern = (i: number) => `bench-issue-${i}: (disk|network|printer) failure [0-9]+`;
/** The seeded issues' patterns (migrations/0001_seed_known_issues.sql), matched first. */
const SEEDED_PATTERNS = ["EADDRINUSE", "process.exit.*watchdog.*max uptime"];

function crashEntries(i: number): string[] {
  // A handful of distinct crashes, so reports both open groups and add to them.
  return [
    `[${new Date().toISOString()}] UNCAUGHT: TypeError: Cannot read properties of undefined (reading 'field${i % 7}')`,
    `    at handler${i % 7} (~/app/dist/worker.js:${100 + i}:17)`,
    "    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)",
    "EXIT code=1",
  ];
}

/**
 * The matching phase of triage alone, the same patterns and reports as through the edge: the
 * way triage matched before (each pattern's regex in turn) against the one pass it makes now
 * (worker/triage/pattern.ts, compilePatternList). The second of two rounds, so both are warm.
 */
function measureMatching(reports: number): Pick<TriageFigures, "triage_match_us_one_by_one" | "triage_match_us_one_pass"> {
  const patterns = [...SEEDED_PATTERNS, ...Array.from({ length: EXTRA_PATTERNS }, (_, i) => extraPattern(i))];
  const texts = Array.from({ length: reports }, (_, i) => crashEntries(i).join("\n"));
  const oneByOne = patterns.map((p) => compilePattern(p));
  const onePass = compilePatternList(patterns, (index, reason) => {
    throw new Error(`bench pattern ${patterns[index]} refused: ${reason}`);
  });
  const usPerReport = (match: (text: string) => unknown) => {
    let us = 0;
    for (let round = 0; round < 2; round++) {
      const started = performance.now();
      for (const text of texts) match(text);
      us = ((performance.now() - started) * 1000) / texts.length;
    }
    return Math.round(us * 10) / 10;
  };
  return {
    triage_match_us_one_by_one: usPerReport((text) => oneByOne.findIndex((match) => match(text))),
    triage_match_us_one_pass: usPerReport(onePass),
  };
}

/** The bench part: its own edge, BENCH_TRIAGE_REPORTS crash reports (400). */
export async function benchTriage(): Promise<TriageFigures> {
  const edge = await startEdge({ direct: true });
  try {
    const reports = positiveInt("BENCH_TRIAGE_REPORTS", 400);
    log(`triage: ${reports} crash reports through the consumer with ${EXTRA_PATTERNS} extra patterns`);
    return { ...(await measureTriage(edge, reports)), ...measureMatching(reports) };
  } finally {
    await stopEdge(edge);
  }
}
/** Well under the 60/min per-node budget. */
const REPORTS_PER_NODE = 40;

type TriageLoad = {
  /** The crash lines of report i. */
  entries?: (i: number) => string[];
  /** Reports each node sends (at most 40: the per-node budget is 60 a minute). */
  reportsPerNode?: number;
  timeoutMs?: number;
};

export async function measureTriage(
  edge: LocalEdge,
  reports: number,
  { entries = crashEntries, reportsPerNode = REPORTS_PER_NODE, timeoutMs = 180_000 }: TriageLoad = {},
): Promise<Omit<TriageFigures, "triage_match_us_one_by_one" | "triage_match_us_one_pass">> {
  const admin = async (path: string, body?: unknown) => {
    const res = await fetch(`${edge.url}${path}`, {
      method: body === undefined ? "GET" : "POST",
      headers: { authorization: `Bearer ${edge.adminToken}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return res.json() as Promise<Record<string, unknown>>;
  };

  for (let i = 0; i < EXTRA_PATTERNS; i++) {
    await admin("/api/admin/known-issues", { pattern: extraPattern(i), fix_type: "manual" });
  }
  const patterns = ((await admin("/api/admin/known-issues")).items as { enabled: boolean }[]).filter((i) => i.enabled).length;

  const nodes = await enrollFleet(edge, Math.ceil(reports / reportsPerNode), 8);
  const started = Date.now();
  let sent = 0;
  const sender = async () => {
    while (sent < reports) {
      const i = sent++;
      const node = nodes[Math.floor(i / reportsPerNode)]!;
      const res = await fetch(`${edge.url}/api/node/telemetry`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-node-key": node.key },
        body: JSON.stringify({
          event_id: randomUUID(),
          type: "crash_report",
          entries: entries(i),
          node_version: "0.3.0",
          os: "win32",
          arch: "x64",
          uptime_before_crash: null,
          timestamp: new Date().toISOString(),
        }),
      });
      if (res.status !== 202) throw new Error(`ingest answered ${res.status}: ${await res.text()}`);
    }
  };
  // As many senders as the ingest part's autocannon has connections: the same offered load.
  await Promise.all(Array.from({ length: positiveInt("BENCH_CONNECTIONS", 10) }, sender));
  const sentSeconds = (Date.now() - started) / 1000;

  const deadline = started + timeoutMs;
  let triaged = 0;
  while (Date.now() < deadline) {
    triaged = await countTriaged(admin);
    if (triaged >= reports) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  if (triaged < reports) throw new Error(`only ${triaged} of ${reports} reports were triaged within ${timeoutMs / 1000} s`);
  const seconds = (Date.now() - started) / 1000;
  return {
    triage_reports_per_s: Math.round((reports / seconds) * 10) / 10,
    triage_patterns: patterns,
    triage_reports: reports,
    triage_seconds: Math.round(seconds * 10) / 10,
    triage_sent_per_s: Math.round((reports / sentSeconds) * 10) / 10,
    triage_lag_s: Math.round((seconds - sentSeconds) * 10) / 10,
  };
}

/** Reports triaged so far: the crash groups' report counts add up to it. */
async function countTriaged(admin: (path: string) => Promise<Record<string, unknown>>): Promise<number> {
  let total = 0;
  let cursor: string | null = null;
  do {
    const page = await admin(`/api/support/crash-groups?limit=200${cursor ? `&cursor=${cursor}` : ""}`);
    for (const group of page.items as { report_count: number }[]) total += group.report_count;
    cursor = page.next_cursor as string | null;
  } while (cursor);
  return total;
}

export type HotGroupFigures = {
  hot_group_reports_per_s: number;
  distinct_groups_reports_per_s: number;
  /** hot ÷ distinct: does triage slow down when every report lands in one crash group? Target >= 0.9. */
  hot_group_ratio: number;
  hot_group_nodes: number;
};

/**
 * A bad release: every report is the same crash from a different node, so one crash group gains
 * a node with each report, against the same number of reports that each open a group of their
 * own. Each side on a fresh edge, same patterns, same senders.
 */
export async function benchHotGroup(): Promise<HotGroupFigures> {
  const reports = positiveInt("BENCH_HOT_GROUP_REPORTS", 300);
  log(`triage, hot group: ${reports} reports from ${reports} nodes, all one crash group, then each its own group`);
  const side = async (entries: (i: number) => string[]) => {
    const edge = await startEdge({ direct: true });
    try {
      return await measureTriage(edge, reports, { entries, reportsPerNode: 1 });
    } finally {
      await stopEdge(edge);
    }
  };
  const hot = await side(() => crashEntries(0));
  // Distinct words (not numbers, which the fingerprint folds): one group per report.
  const distinct = await side((i) => [
    `UNCAUGHT: Error: device ${wordOf(i)} failed`,
    "    at handler (~/app/dist/worker.js:100:17)",
    "EXIT code=1",
  ]);
  return {
    hot_group_reports_per_s: hot.triage_reports_per_s,
    distinct_groups_reports_per_s: distinct.triage_reports_per_s,
    hot_group_ratio: Math.round((hot.triage_reports_per_s / distinct.triage_reports_per_s) * 1000) / 1000,
    hot_group_nodes: reports,
  };
}

/** 0 → "a", 25 → "z", 26 → "ba": a word per number. */
function wordOf(n: number): string {
  let word = "";
  do {
    word = String.fromCharCode(97 + (n % 26)) + word;
    n = Math.floor(n / 26);
  } while (n > 0);
  return word;
}
