/**
 * Which known issue a crash report matches: the first enabled one (oldest
 * first) whose pattern matches the report's lines. Compiled patterns are kept
 * per isolate, keyed by the pattern text, so a batch compiles each once.
 */
import type { KnownIssueRow } from "../db/triage.ts";
import { compilePattern } from "./pattern.ts";

const compiled = new Map<string, (text: string) => boolean>();

export function matchKnownIssue(issues: KnownIssueRow[], lines: string[]): KnownIssueRow | null {
  const text = lines.join("\n");
  for (const issue of issues) {
    if (matcher(issue.pattern)(text)) return issue;
  }
  return null;
}

function matcher(pattern: string): (text: string) => boolean {
  let match = compiled.get(pattern);
  if (!match) {
    try {
      match = compilePattern(pattern);
    } catch (error) {
      // Patterns are checked when written; one that still fails (e.g. seeded by hand) matches nothing.
      console.error(JSON.stringify({ msg: "known issue pattern does not compile", pattern, error: String(error) }));
      match = () => false;
    }
    if (compiled.size > 1000) compiled.clear();
    compiled.set(pattern, match);
  }
  return match;
}
