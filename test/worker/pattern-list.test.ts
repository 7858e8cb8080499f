/**
 * All known-issue patterns matched in one pass (compilePatternList) answer exactly what trying
 * them one by one in list order answers: the first pattern that matches wins, refused patterns
 * match nothing, and anchors, (?s) and case-insensitivity behave the same. Runs in workerd.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkPattern, compilePattern, compilePatternList } from "../../worker/triage/pattern.ts";
import { EADDRINUSE_CRASH_LOOP, TYPE_ERROR_CRASH, WATCHDOG_EXIT } from "../fixtures/crashes.ts";

const POOL = [
  "EADDRINUSE",
  "process.exit.*watchdog.*max uptime",
  "^\\s+at listenInCluster",
  "(?s)EADDRINUSE.*listen",
  "typeerror: cannot read",
  "^EXIT code=1$",
  "disk|network|printer",
  "bench-issue-7: (disk|network|printer) failure [0-9]+",
  "(a)\\1", // refused: a backreference
  "x?", // refused: matches empty text
  "field[0-3]'\\)$",
];

const LINES = [
  ...EADDRINUSE_CRASH_LOOP,
  ...WATCHDOG_EXIT,
  ...TYPE_ERROR_CRASH,
  "bench-issue-7: Printer failure 42",
  "EXIT code=1",
  "Cannot read properties of undefined (reading 'field2')",
  "network",
];

function firstOneByOne(patterns: string[], text: string): number | null {
  const index = patterns.findIndex((p) => checkPattern(p).ok && compilePattern(p)(text));
  return index === -1 ? null : index;
}

describe("matching every known-issue pattern in one pass", () => {
  it("picks the same pattern as trying them one by one, in list order", () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...POOL), { minLength: 1, maxLength: 8 }),
        fc.array(fc.constantFrom(...LINES), { maxLength: 6 }),
        (patterns, lines) => {
          const text = lines.join("\n");
          const refused: number[] = [];
          const match = compilePatternList(patterns, (index) => refused.push(index));
          expect(match(text)).toBe(firstOneByOne(patterns, text));
          expect(refused).toEqual(patterns.flatMap((p, i) => (checkPattern(p).ok ? [] : [i])));
        },
      ),
      { numRuns: 150 },
    );
  });

  it("an earlier pattern wins over a later one that matches the same text", () => {
    const match = compilePatternList(["printer", "EADDRINUSE", "bench-issue"], () => undefined);
    expect(match("bench-issue-1: printer failure 3\nError: listen EADDRINUSE")).toBe(0);
    expect(match("Error: listen EADDRINUSE")).toBe(1);
    expect(match("nothing known")).toBe(null);
  });

  it("a thousand patterns past one set's size still find the first match", () => {
    // 1,000 patterns of 57 instructions each span two RE2 sets of at most 50,000.
    const patterns = Array.from({ length: 1000 }, (_, i) => `issue-${i}: (disk|network|printer|scanner) failure [0-9]{1,4}`);
    const match = compilePatternList(patterns, () => undefined);
    expect(match("issue-999: scanner failure 12")).toBe(999);
    expect(match("issue-912: disk failure 1\nissue-12: disk failure 1")).toBe(12);
    expect(match("issue-1000: disk failure 1")).toBe(null);
  });
});
