/**
 * Known-issue patterns (node_known_issues.pattern): a case-insensitive regular expression matched
 * against crash text; a plain keyword like EADDRINUSE is a regular expression too. Patterns are
 * typed by people and run on every crash report, so no pattern may stall triage.
 *
 * Why an engine instead of a checker: heuristic ReDoS checkers judge JavaScript's backtracking
 * engine and are wrong in both directions here. `recheck` flags the seeded pattern
 * `process.exit.*watchdog.*max uptime` (polynomial backtracking), so refusing what it flags would
 * refuse the seed data; `safe-regex2` passes `(x|x)*y`, which is exponential. re2js (RE2's
 * JavaScript port) never backtracks: it simulates the automaton, so matching time is linear in
 * the input whatever the pattern, and what RE2 cannot do in linear time (backreferences,
 * lookaround) does not compile at all. We then only need to bound the two other factors of the
 * cost: the input length and the program's size.
 *
 * Matching semantics: case-insensitive; `^` and `$` match at line starts and ends (crash text is
 * lines, so patterns read like grep); `.` does not cross a line break, so a pattern matches within
 * one line unless it opts in with (?s).
 */
import { RE2JS, RE2JSException, RE2JSSyntaxException, RE2Set } from "re2js";
import { MAX_TELEMETRY_BODY_BYTES } from "../../protocol/index.ts";

export type PatternCheck = { ok: true } | { ok: false; reason: string };
export type PatternMatcher = (text: string) => boolean;

/** Known-issue patterns are short by nature (the seeds are 10 and 34 characters). */
export const MAX_PATTERN_CHARS = 500;
/**
 * RE2's cost per input character grows with the compiled program: `(?:x|xx|xxx|xxxx){1000}y`
 * (10,003 instructions) took ~10 s over 64 KiB, the same pattern with {100} (1,003) ~10 ms.
 * 1000 instructions leave room for any 500-character pattern without large counted repeats.
 */
export const MAX_PROGRAM_SIZE = 1000;
/**
 * Only the first 64 KiB (UTF-16 units) of a text are examined. A crash report's body is at most
 * MAX_TELEMETRY_BODY_BYTES of UTF-8 JSON, and its entries joined by newlines are shorter than that
 * in UTF-16 units (each entry costs at least its quotes and comma in JSON), so no accepted report
 * is ever cut; the bound only caps what a caller passing other text can cost.
 */
export const MAX_MATCH_INPUT_CHARS = MAX_TELEMETRY_BODY_BYTES;

const FLAGS = RE2JS.CASE_INSENSITIVE | RE2JS.MULTILINE;

/** Thrown by compilePattern for a pattern checkPattern refuses; `reason` is for a person. */
export class PatternError extends Error {
  override name = "PatternError";
  readonly reason: string;
  constructor(reason: string) {
    super(`invalid known-issue pattern: ${reason}`);
    this.reason = reason;
  }
}

export function checkPattern(source: string): PatternCheck {
  const compiled = tryCompile(source);
  return compiled.ok ? { ok: true } : compiled;
}

/**
 * Instructions per RE2 set: well below re2js's limit for one program (~1.4 M), and small enough
 * that a set's lazy DFA keeps its states within its default 8 MB budget in practice.
 */
const MAX_SET_PROGRAM_SIZE = 50_000;

/**
 * One matcher for many patterns, in order: the index of the first pattern that matches, or null.
 * The patterns go into RE2 sets, each one automaton for all its patterns, so a text is read once
 * per set (one set for up to ~50 maximal patterns, hundreds of short ones) instead of once per
 * pattern; the cost stays linear in the text. A pattern checkPattern refuses never matches; it
 * is reported through `onInvalid`.
 */
export function compilePatternList(sources: readonly string[], onInvalid: (index: number, reason: string) => void): PatternListMatcher {
  const sets: { set: RE2Set; indexes: number[] }[] = [];
  let current: { set: RE2Set; indexes: number[]; size: number } | null = null;
  sources.forEach((source, index) => {
    const compiled = tryCompile(source);
    if (!compiled.ok) {
      onInvalid(index, compiled.reason);
      return;
    }
    const size = compiled.re.programSize();
    if (!current || current.size + size > MAX_SET_PROGRAM_SIZE) {
      current = { set: new RE2Set(RE2Set.UNANCHORED, FLAGS), indexes: [], size: 0 };
      sets.push(current);
    }
    current.set.add(source);
    current.indexes.push(index);
    current.size += size;
  });
  for (const { set } of sets) set.compile();
  return (text) => {
    const input = bounded(text);
    // Sets hold patterns in list order, so the first set with a match holds the first match.
    for (const { set, indexes } of sets) {
      const matched = set.match(input);
      if (matched.length > 0) return indexes[Math.min(...matched)]!;
    }
    return null;
  };
}

export type PatternListMatcher = (text: string) => number | null;

/** A matcher for `source`; throws PatternError with the same reason checkPattern gives. */
export function compilePattern(source: string): PatternMatcher {
  const compiled = tryCompile(source);
  if (!compiled.ok) throw new PatternError(compiled.reason);
  const { re } = compiled;
  return (text) => re.test(bounded(text));
}

function tryCompile(source: string): { ok: true; re: RE2JS } | { ok: false; reason: string } {
  if (source.trim() === "") return { ok: false, reason: "the pattern is empty; it would match every crash report" };
  if (source.length > MAX_PATTERN_CHARS) {
    return {
      ok: false,
      reason:
        `the pattern is ${source.length} characters long; the limit is ${MAX_PATTERN_CHARS}. ` +
        "Match a short distinctive part of the crash text instead (e.g. EADDRINUSE)",
    };
  }
  let re: RE2JS;
  try {
    re = RE2JS.compile(source, FLAGS);
  } catch (error) {
    return { ok: false, reason: explainCompileError(error) };
  }
  if (re.programSize() > MAX_PROGRAM_SIZE) {
    return {
      ok: false,
      reason:
        `the pattern compiles to ${re.programSize()} steps; the limit is ${MAX_PROGRAM_SIZE}. ` +
        "Large counted repeats such as {500} make it big: use + or * instead",
    };
  }
  // Such a pattern matches (almost) every report, which for an auto-resolving issue would close
  // crashes nobody looked at.
  if (re.test("")) {
    return {
      ok: false,
      reason:
        "the pattern also matches empty text, so it would match almost every crash report; " +
        "make at least one part of it required (e.g. EADDRINUSE, not EADDRINUSE?)",
    };
  }
  return { ok: true, re };
}

/** Cuts to the bound, never between the two halves of a surrogate pair. */
function bounded(text: string): string {
  if (text.length <= MAX_MATCH_INPUT_CHARS) return text;
  const high = text.charCodeAt(MAX_MATCH_INPUT_CHARS - 1);
  return text.slice(0, high >= 0xd800 && high <= 0xdbff ? MAX_MATCH_INPUT_CHARS - 1 : MAX_MATCH_INPUT_CHARS);
}

/** RE2's parser messages name the construct; these say what to write instead. */
function explainCompileError(error: unknown): string {
  if (!(error instanceof RE2JSSyntaxException)) {
    return error instanceof RE2JSException ? `the pattern cannot be compiled: ${error.message}` : "the pattern cannot be compiled";
  }
  const input = error.input ?? "";
  const literal = (char: string): string => `write \\${char} for a literal ${char}`;
  switch (error.error) {
    case "invalid escape sequence":
      if (/^\\[1-9]/.test(input)) {
        return `backreferences like ${input} are not supported (matching them needs backtracking); match the repeated text itself`;
      }
      if (input === "\\k") return "named backreferences like \\k<name> are not supported (matching them needs backtracking)";
      return `the escape ${input} is not supported; use \\d \\w \\s \\b \\x41 \\p{L}, or write \\\\ for a literal backslash`;
    case "invalid or unsupported Perl syntax":
      if (input === "(?=" || input === "(?!") {
        return `lookahead ${input}…) is not supported (it needs backtracking); put the text you would look ahead for into the pattern itself`;
      }
      if (input.startsWith("(?P"))
        return `the group syntax ${input} is not supported (named backreferences like (?P=name) need backtracking)`;
      return `the group syntax ${input} is not supported; use (…), (?:…), (?P<name>…) or flags like (?s)`;
    case "invalid named capture":
      if (input.startsWith("(?<=") || input.startsWith("(?<!")) {
        return `lookbehind ${input.slice(0, 4)}…) is not supported; put the text before into the pattern itself`;
      }
      return `the named group ${input} is malformed; write (?P<name>…) or (?<name>…) with a name of letters, digits and _`;
    case "missing closing ]":
      return `a character class is not closed: add ] after ${input}, or ${literal("[")}`;
    case "missing closing )":
      return `a group is not closed: add ), or ${literal("(")}`;
    case "unexpected )":
      return `a ) has no matching (: remove it, or ${literal(")")}`;
    case "missing argument to repetition operator":
      return `${input} has nothing before it to repeat: ${literal(input.charAt(0))}`;
    case "invalid nested repetition operator":
      return `${input} repeats a repetition (possessive forms like a++ are not supported): use a single *, + or ?`;
    case "invalid repeat count":
      return `the repeat count ${input} is too large (at most 1000, and nested counts multiply): use + or * instead`;
    case "invalid character class range":
      return `the character range or class ${input} is invalid (a range must go low to high, like a-z; classes are like [[:alpha:]] or \\p{L})`;
    case "trailing backslash at end of expression":
      return "the pattern ends in a lone \\: write \\\\ for a literal backslash";
    case "expression too large":
      return "the pattern is too large once its repeats are expanded: use + or * instead of large counts";
    default:
      return `the pattern is not a valid regular expression: ${error.error}${input ? ` at ${input}` : ""}`;
  }
}
