/**
 * Which known issue a crash report matches: the first enabled one (oldest first) whose pattern
 * matches the report's lines. All patterns are matched in one pass over the text (pattern.ts,
 * compilePatternList), and the compiled list is kept per isolate for the patterns it was built
 * from: compiling 200 patterns takes tens of milliseconds, matching a report with them all a few
 * microseconds once warm, where trying them one by one cost about a millisecond per report.
 */
import type { KnownIssueRow } from "../db/triage.ts";
import { compilePatternList, type PatternListMatcher } from "./pattern.ts";

let cached: { key: string; match: PatternListMatcher } | null = null;

export function matchKnownIssue(issues: readonly KnownIssueRow[], lines: readonly string[]): KnownIssueRow | null {
  if (issues.length === 0) return null;
  const index = listMatcher(issues)(lines.join("\n"));
  return index === null ? null : issues[index]!;
}

function listMatcher(issues: readonly KnownIssueRow[]): PatternListMatcher {
  const key = JSON.stringify(issues.map((issue) => issue.pattern));
  if (cached?.key !== key) {
    const match = compilePatternList(
      issues.map((issue) => issue.pattern),
      (index, reason) =>
        // Patterns are checked when written; one that still fails (e.g. seeded by hand) matches nothing.
        console.error(JSON.stringify({ msg: "known issue pattern does not compile", pattern: issues[index]!.pattern, error: reason })),
    );
    cached = { key, match };
  }
  return cached.match;
}
