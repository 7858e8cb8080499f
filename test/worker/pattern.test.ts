/**
 * Known-issue patterns: the seed patterns against crash reports captured from real
 * processes, the refusals a person gets (with reasons they can act on), and the guarantees that
 * no accepted pattern can stall triage: linear-time matching (shown on patterns that backtrack
 * catastrophically in JavaScript's own engine, asserting answers, not timings) and a bounded input.
 * Runs in workerd, where triage runs.
 */
import { describe, expect, it } from "vitest";
import { MAX_MATCH_INPUT_CHARS, MAX_PATTERN_CHARS, PatternError, checkPattern, compilePattern } from "../../worker/triage/pattern.ts";
import {
  EADDRINUSE_CRASH_LOOP,
  ENOENT_CRASH,
  JSON_PARSE_REJECTION,
  SIGKILL_EXIT,
  TYPE_ERROR_CRASH,
  WATCHDOG_EXIT,
} from "../fixtures/crashes.ts";
import { MAX_ENTRIES, MAX_ENTRY_CHARS, MAX_TELEMETRY_BODY_BYTES } from "../../protocol/index.ts";

const SEED_PORT_CONFLICT = "EADDRINUSE";
const SEED_WATCHDOG = "process.exit.*watchdog.*max uptime";

const FIXTURES = {
  EADDRINUSE_CRASH_LOOP,
  WATCHDOG_EXIT,
  TYPE_ERROR_CRASH,
  JSON_PARSE_REJECTION,
  ENOENT_CRASH,
  SIGKILL_EXIT,
} as const;
type FixtureName = keyof typeof FIXTURES;

function text(lines: readonly string[]): string {
  return lines.join("\n");
}

function matchingFixtures(pattern: string): FixtureName[] {
  const matches = compilePattern(pattern);
  return (Object.keys(FIXTURES) as FixtureName[]).filter((name) => matches(text(FIXTURES[name])));
}

function refusal(pattern: string): string {
  const result = checkPattern(pattern);
  if (result.ok) throw new Error(`expected ${JSON.stringify(pattern.slice(0, 40))} to be refused`);
  return result.reason;
}

describe("the seed patterns on real crashes", () => {
  it("accepts both seeds", () => {
    expect(checkPattern(SEED_PORT_CONFLICT)).toEqual({ ok: true });
    expect(checkPattern(SEED_WATCHDOG)).toEqual({ ok: true });
  });

  it("EADDRINUSE matches the real port-conflict crash and no other", () => {
    expect(matchingFixtures(SEED_PORT_CONFLICT)).toEqual(["EADDRINUSE_CRASH_LOOP"]);
  });

  it("the watchdog seed matches the watchdog exit and no other", () => {
    expect(matchingFixtures(SEED_WATCHDOG)).toEqual(["WATCHDOG_EXIT"]);
  });

  it("ignores case", () => {
    expect(compilePattern("eaddrinuse")(text(EADDRINUSE_CRASH_LOOP))).toBe(true);
    expect(compilePattern("PROCESS\\.EXIT.*WATCHDOG")(text(WATCHDOG_EXIT))).toBe(true);
  });

  it("reads crash text as lines: ^ and $ at line ends, . not across lines unless (?s)", () => {
    const crash = text(EADDRINUSE_CRASH_LOOP);
    expect(compilePattern("^\\s+at listenInCluster \\(node:net:\\d+:\\d+\\)$")(crash)).toBe(true);
    expect(compilePattern("^at listenInCluster")(crash)).toBe(false);
    expect(compilePattern("EADDRINUSE.*_listen2")(crash)).toBe(false);
    expect(compilePattern("(?s)EADDRINUSE.*_listen2")(crash)).toBe(true);
  });
});

describe("patterns that backtrack catastrophically in JavaScript run in linear time", () => {
  // Each input is 100,000 characters with the part a backtracking engine chokes on (a long run
  // that almost matches) inside the examined bound; the answers are right either way.
  it("(a+)+$ is accepted and answers over a 100,000-character input", () => {
    expect(checkPattern("(a+)+$")).toEqual({ ok: true });
    const matches = compilePattern("(a+)+$");
    const almost = `${"a".repeat(60_000)}!\n${"b".repeat(39_997)}!`;
    expect(almost).toHaveLength(100_000);
    expect(matches(almost)).toBe(false);
    const hit = `${"a".repeat(60_000)}!\naaa\n${"b".repeat(39_993)}!`;
    expect(hit).toHaveLength(100_000);
    expect(matches(hit)).toBe(true);
  });

  it.each([
    ["(x|x)*y", "x", "y"],
    ["(a|aa)*b", "a", "b"],
  ])("%s is accepted and answers over a 100,000-character input", (pattern, run, end) => {
    expect(checkPattern(pattern)).toEqual({ ok: true });
    const matches = compilePattern(pattern);
    expect(matches(run.repeat(100_000))).toBe(false);
    expect(matches(`${run.repeat(60_000)}${end}${"z".repeat(39_999)}`)).toBe(true);
  });
});

describe("refused patterns say why", () => {
  it.each([
    ["(a)\\1", /backreferences like \\1 are not supported/],
    ["(?P<word>a)(?P=word)", /named backreferences/],
    ["(?=x)", /lookahead \(\?=…\) is not supported/],
    ["(?!x)", /lookahead \(\?!…\) is not supported/],
    ["(?<=x)y", /lookbehind \(\?<=…\) is not supported/],
    ["(?<!x)y", /lookbehind \(\?<!…\) is not supported/],
    ["[", /character class is not closed: add \]/],
    ["EADDR[INUSE", /character class is not closed: add \] after \[INUSE/],
    ["(", /group is not closed: add \), or write \\\( for a literal \(/],
    ["a)", /\) has no matching \(/],
    ["*crash", /\* has nothing before it to repeat: write \\\* for a literal \*/],
    ["a++", /possessive forms like a\+\+ are not supported/],
    ["x{1001}", /repeat count \{1001\} is too large/],
    ["trailing\\", /ends in a lone \\/],
    ["[z-a]", /range must go low to high/],
  ])("%s", (pattern, reason) => {
    expect(refusal(pattern)).toMatch(reason);
  });

  it("refuses a 10 KB pattern by its length", () => {
    const huge = "EADDRINUSE|".repeat(1000).slice(0, 10_000);
    expect(refusal(huge)).toBe(
      `the pattern is 10000 characters long; the limit is ${MAX_PATTERN_CHARS}. Match a short distinctive part of the crash text instead (e.g. EADDRINUSE)`,
    );
    expect(checkPattern("x".repeat(MAX_PATTERN_CHARS))).toEqual({ ok: true });
  });

  it("refuses a short pattern whose repeats compile to a huge program", () => {
    // Linear in the input, but with a constant so large (~10,000 steps per character) that one
    // report would take seconds: short text, big machine.
    expect(refusal("(?:x|xx|xxx|xxxx){1000}y")).toMatch(/compiles to \d+ steps; the limit is 1000/);
    expect(checkPattern("(?:x|xx|xxx|xxxx){50}y")).toEqual({ ok: true });
  });

  it.each(["", "   ", "x?", "$", "(?:)", "EADDRINUSE|"])("refuses %j, which would match every report", (pattern) => {
    expect(refusal(pattern)).toMatch(/empty|every crash report/);
  });

  it("compilePattern throws the same reason checkPattern gives", () => {
    const reason = refusal("(a)\\1");
    expect(() => compilePattern("(a)\\1")).toThrow(PatternError);
    try {
      compilePattern("(a)\\1");
    } catch (error) {
      expect(error).toBeInstanceOf(PatternError);
      expect((error as PatternError).reason).toBe(reason);
    }
  });
});

describe("only the first MAX_MATCH_INPUT_CHARS of a text are examined", () => {
  const MB = 1024 * 1024;
  const withMarkerAt = (position: number): string => {
    const marker = "EADDRINUSE";
    return `${"x".repeat(position)}${marker}${"x".repeat(MB - position - marker.length)}`;
  };
  const matches = compilePattern(SEED_PORT_CONFLICT);

  it("finds what is inside the bound of a 1 MB text", () => {
    expect(withMarkerAt(1000)).toHaveLength(MB);
    expect(matches(withMarkerAt(1000))).toBe(true);
    expect(matches(withMarkerAt(MAX_MATCH_INPUT_CHARS - "EADDRINUSE".length))).toBe(true);
  });

  it("does not see what lies past the bound, even partly", () => {
    expect(matches(withMarkerAt(MAX_MATCH_INPUT_CHARS - 5))).toBe(false);
    expect(matches(withMarkerAt(900_000))).toBe(false);
  });

  it("sees the end of the largest crash report the protocol accepts", () => {
    // Built the way the agent builds one: 50 full-length lines, the oldest dropped until the
    // body fits, the newest line (the crash that matters) last.
    const entries = Array.from({ length: MAX_ENTRIES }, () => "x".repeat(MAX_ENTRY_CHARS));
    entries[entries.length - 1] = `${"x".repeat(MAX_ENTRY_CHARS - "EADDRINUSE".length)}EADDRINUSE`;
    const body = (): string =>
      JSON.stringify({
        event_id: crypto.randomUUID(),
        type: "crash_report",
        entries,
        node_version: "0.3.0",
        os: "win32",
        arch: "x64",
        uptime_before_crash: null,
        timestamp: new Date().toISOString(),
      });
    while (new TextEncoder().encode(body()).length > MAX_TELEMETRY_BODY_BYTES) entries.shift();
    expect(entries.length).toBeGreaterThan(10);
    expect(matches(entries.join("\n"))).toBe(true);
  });
});
