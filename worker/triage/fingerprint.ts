/**
 * Crash fingerprints: which crash reports are "the same crash". A report is the crash.log lines a
 * node uploaded, or crash text some program printed (crash-text.ts reads its shapes); its
 * fingerprint is a SHA-256 over the most recent crash's error type, message and the program's top
 * stack frames with everything that differs between machines, runs, builds and Node releases taken
 * out (ports, addresses, ids, numbers, times, install directories, line:column, Node's and
 * Electron's own frames, wording Node changed). So the zombie-port crash on Nana's laptop and on a
 * server a week later, one build or one Node major apart, group together, while a different error
 * type, message or top program frame starts a new group.
 *
 * Pure (no bindings, no Node APIs) so it runs in workerd and is tested on real captured crashes.
 * Every regular expression here runs over untrusted text, so each is written to be linear: no
 * nested quantifiers, and every repeated class stops at a character the next part cannot use.
 *
 * Record format (agent/crash/crash-log.ts): the program's record, closed by its own "EXIT code=1" when
 * it runs alone or by the supervisor's timestamped EXIT line; a death the program could not
 * record (SIGKILL) has only the supervisor's line:
 *   [2026-11-28T13:00:00.000Z] UNCAUGHT: Error: listen EADDRINUSE: ... 127.0.0.1:9847
 *       at Server.setupListenHandle [as _listen2] (node:net:1941:16)
 *   [2026-11-28T13:00:00.010Z] EXIT code=1 signal=null after 0.4 s
 *   [2026-11-28T13:05:00.000Z] EXIT code=null signal=SIGKILL after 298.6 s
 */
import { toHex } from "../crypto.ts";
import { cleanCrashLines, findErrorLine, isRuntimeFrame, parseFrame, stackAfter } from "./crash-text.ts";
import type { ErrorLine } from "./crash-text.ts";

export type CrashFingerprint = CrashDescription & {
  /** Hex SHA-256 of the normalized error type, message and the program's top frames. */
  fingerprint: string;
  /**
   * What the first scheme (buhdi-crash-v1) gave the same report, for records this agent wrote
   * (the only ones v1 read correctly); null for other text. Triage adopts a group stored under
   * it, so groups made before the scheme changed keep their tickets and history.
   */
  legacyFingerprint: string | null;
};

export type CrashDescription = {
  /** Readable and stable, e.g. "Error: listen EADDRINUSE: address already in use <addr>:<port>". */
  title: string;
  /**
   * The record kind: UNCAUGHT, UNHANDLED_REJECTION, EXIT, another record word (WATCHDOG), UNKNOWN
   * (lines without a record header) or EMPTY (no lines).
   */
  kind: string;
  /** "TypeError", "Error", "TypeError [ERR_INVALID_ARG_TYPE]", "FATAL ERROR", "native assertion"; the kind for non-error records. */
  errorType: string;
  /** The message with variable parts replaced by placeholders. */
  message: string;
  /**
   * The program's top stack frames, normalized: "relayAddress (type-error.ts)". Frames of the
   * runtime (Node's own modules, V8 builtins, Electron's own code) are left out.
   */
  frames: string[];
  /** The crash line as the report has it, for people: "UNCAUGHT: Error: listen EADDRINUSE … 127.0.0.1:9847". */
  crashLine: string;
};

/** How many of the program's frames from the top identify a crash; deeper frames vary with who called. */
export const FINGERPRINT_FRAMES = 5;
/** Titles are for lists and subjects; the full normalized message stays in `message`. */
export const MAX_TITLE_CHARS = 200;
/**
 * Bumped if normalization changes, so old and new fingerprints never collide by accident.
 * v2: the error line of crash text from the wild, runtime frames out of the key, messages that
 * Node versions word differently read as one (see canonicalMessage).
 */
const FINGERPRINT_SCHEME = "buhdi-crash-v2";
/** Same bound as the protocol's per-line limit, so a caller that skipped validation costs no more. */
const MAX_LINE_CHARS = 4096;
const LEGACY_SCHEME = "buhdi-crash-v1";

const NON_ERROR_TYPE = "(not an Error)";

/** "[<ISO time>] KIND" then ": text" or " text"; KIND is an upper-case word (UNCAUGHT, EXIT, ...). */
const RECORD_HEADER = /^\[\d{4}-\d\d-\d\dT[0-9:.]+(?:Z|[+-]\d\d:?\d\d)\] ([A-Z][A-Z0-9_]*)(?::? (.*)|:)?$/;
/** The crash capture's own last line inside a record; not part of the error. */
const BARE_EXIT = /^EXIT\b(.*)$/;
/** What v1 counted as a stack line (indented "at"); kept for the legacy key only. */
const LEGACY_STACK_LINE = /^\s+at\s+/;

type CrashRecord = { kind: string; text: string; body: string[] };
type Described = CrashDescription & { legacyKey: unknown[] | null };

export async function fingerprint(lines: readonly string[]): Promise<CrashFingerprint> {
  const { legacyKey, ...description } = describe(lines);
  const key = [FINGERPRINT_SCHEME, description.errorType, canonicalMessage(description.message), description.frames];
  return {
    ...description,
    fingerprint: await sha256Hex(JSON.stringify(key)),
    legacyFingerprint: legacyKey === null ? null : await sha256Hex(JSON.stringify(legacyKey)),
  };
}

/** The most recent crash in the lines, normalized; the synchronous part of fingerprint(). */
export function describeCrash(lines: readonly string[]): CrashDescription {
  const { legacyKey: _legacy, ...description } = describe(lines);
  return description;
}

async function sha256Hex(text: string): Promise<string> {
  return toHex(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

function describe(lines: readonly string[]): Described {
  const record = lastDeath(cleanCrashLines(lines));
  if (record === null) {
    return {
      title: "empty crash report",
      kind: "EMPTY",
      errorType: "",
      message: "",
      frames: [],
      crashLine: "(no crash line)",
      legacyKey: null,
    };
  }
  if (record.kind === "EXIT") return withLegacy(describeExit(record.text), []);
  if (record.kind === "UNKNOWN") return { ...describeText(record.body), legacyKey: null };
  if (record.kind === "UNCAUGHT" || record.kind === "UNHANDLED_REJECTION") return describeRecord(record);
  // Any other record word (WATCHDOG, ...) is its own error type: its text is the message.
  const message = normalizeMessage(record.text);
  return withLegacy(
    {
      title: cutTitle(`${record.kind}: ${message}`),
      kind: record.kind,
      errorType: record.kind,
      message,
      frames: [],
      crashLine: `${record.kind}: ${record.text}`,
    },
    [],
  );
}

function withLegacy(description: CrashDescription, legacyFrames: string[]): Described {
  return { ...description, legacyKey: [LEGACY_SCHEME, description.errorType, description.message, legacyFrames] };
}

/**
 * A record this agent wrote: its text is what was thrown. If that was not an Error but the record
 * holds crash text that has one (an older agent, a wrapper that logged the child's stderr), the
 * error line there is the crash.
 */
function describeRecord(record: CrashRecord): Described {
  const crashLine = `${record.kind}: ${record.text}`;
  const { errorType, message } = splitErrorHeadline(record.text);
  const legacyFrames = record.body
    .filter((line) => LEGACY_STACK_LINE.test(line))
    .slice(0, FINGERPRINT_FRAMES)
    .map((line) => normalizeFrame(line) ?? "");
  if (errorType === NON_ERROR_TYPE) {
    const inner = findErrorLine(record.body);
    if (inner?.shape === "error" || inner?.shape === "fatal" || inner?.shape === "assertion") {
      return { ...describeErrorLine(record.kind, record.body, inner), legacyKey: [LEGACY_SCHEME, errorType, message, legacyFrames] };
    }
  }
  const frames = programFrames([record.text, ...record.body], 0);
  const title = cutTitle(errorTitle(record.kind, errorType, message));
  return withLegacy({ title, kind: record.kind, errorType, message, frames, crashLine }, legacyFrames);
}

/** Lines without any record header: crash output as some program printed it. */
function describeText(lines: string[]): CrashDescription {
  const found = findErrorLine(lines);
  if (found === null)
    return { title: "empty crash report", kind: "UNKNOWN", errorType: "", message: "", frames: [], crashLine: "(no crash line)" };
  return describeErrorLine("UNKNOWN", lines, found);
}

function describeErrorLine(kind: string, lines: string[], found: ErrorLine): CrashDescription {
  switch (found.shape) {
    case "error": {
      const errorType = `${found.name}${found.code}`;
      const message = normalizeMessage(found.message);
      const frames = programFrames(lines, found.index);
      return {
        title: cutTitle(message === "" ? errorType : `${errorType}: ${message}`),
        kind,
        errorType,
        message,
        frames,
        crashLine: found.text,
      };
    }
    case "fatal": {
      // V8's own words; the native stack under it is addresses of this build, not the program.
      const message = normalizeMessage(found.message);
      return { title: cutTitle(`FATAL ERROR: ${message}`), kind, errorType: "FATAL ERROR", message, frames: [], crashLine: found.text };
    }
    case "assertion": {
      const message = normalizeMessage(found.message);
      return { title: cutTitle(message), kind, errorType: "native assertion", message, frames: [], crashLine: found.text };
    }
    default: {
      // A thrown non-Error, a signal word, or a line we cannot read better: its text is all we know.
      const message = normalizeMessage(found.text);
      return {
        title: cutTitle(message),
        kind,
        errorType: NON_ERROR_TYPE,
        message,
        frames: programFrames(lines, found.index),
        crashLine: found.text,
      };
    }
  }
}

/** The top frames of the error on lines[index] that belong to the program, normalized. */
function programFrames(lines: readonly string[], index: number): string[] {
  const frames: string[] = [];
  for (const line of stackAfter(lines, index)) {
    if (frames.length === FINGERPRINT_FRAMES) break;
    const frame = parseFrame(line);
    if (frame === null || isRuntimeFrame(frame.location)) continue;
    // "async f" is the same function awaited; Node added the word in 12.
    frames.push(formatFrame(frame.name.replace(/^async /, ""), frame.location));
  }
  return frames;
}

/**
 * What differs in wording between Node releases for the same error, read as one for the key
 * (titles keep the words the report has):
 *  - libuv errors: "listen EADDRINUSE: address already in use :::80" (Node ≥ 12) and
 *    "listen EADDRINUSE :::80" (Node ≤ 10) and "listen EADDRINUSE" (Node 0.x) are syscall + code;
 *  - V8's "Cannot read properties of undefined (reading 'x')" (Node ≥ 16.9) was
 *    "Cannot read property 'x' of undefined";
 *  - every V8 out-of-heap message ends in "JavaScript heap out of memory" whatever the GC said.
 */
function canonicalMessage(message: string): string {
  const uv = /^([a-z]\w*) (E[A-Z0-9]{2,})(?:[:,]? .*)?$/.exec(message);
  if (uv) return `${uv[1]} ${uv[2]}`;
  if (/JavaScript heap out of memory$/.test(message)) return "JavaScript heap out of memory";
  return message
    .replace(/^Cannot (read|set) properties of (undefined|null) \((?:reading|setting) (.*)\)$/, "Cannot $1 property $3 of $2")
    .trim();
}

function errorTitle(kind: string, errorType: string, message: string): string {
  if (errorType !== NON_ERROR_TYPE) return message === "" ? errorType : `${errorType}: ${message}`;
  if (kind === "UNCAUGHT") return `Uncaught non-Error value: ${message}`;
  if (kind === "UNHANDLED_REJECTION") return `Unhandled rejection of a non-Error value: ${message}`;
  return message; // a headerless report: its first line is all we know
}

/**
 * The last death in the report. The supervisor logs "[time] EXIT code=1 signal=null …" right after
 * the child's own crash record: that EXIT is the same death and the crash record describes it.
 * An EXIT after another EXIT (or first in the report) is a death that left no record of its own,
 * e.g. the OOM killer's SIGKILL, and is the crash then.
 */
function lastDeath(lines: string[]): CrashRecord | null {
  const records: CrashRecord[] = [];
  const orphans: string[] = []; // lines before the first header: the tail of a record cut off by the 50-line limit
  for (const line of lines) {
    const header = RECORD_HEADER.exec(line);
    if (header) {
      records.push({ kind: header[1] ?? "UNKNOWN", text: header[2] ?? "", body: [] });
    } else if (records.length > 0) {
      records[records.length - 1]?.body.push(line);
    } else {
      orphans.push(line);
    }
  }
  let last: CrashRecord | null = null;
  let exitBelongsToLast = false;
  for (const record of records) {
    if (record.kind === "EXIT" && exitBelongsToLast) {
      exitBelongsToLast = false;
      continue;
    }
    last = record;
    exitBelongsToLast = record.kind !== "EXIT";
  }
  return last ?? headerlessRecord(orphans);
}

/** Lines without any record header (crash text from the wild, an older agent): read as one record. */
function headerlessRecord(lines: string[]): CrashRecord | null {
  const meaningful = lines.filter((line) => line.trim() !== "");
  if (meaningful.some((line) => !BARE_EXIT.test(line.trim()))) {
    return { kind: "UNKNOWN", text: "", body: lines.filter((line) => !BARE_EXIT.test(line.trim())) };
  }
  const exit = meaningful.map((line) => BARE_EXIT.exec(line.trim())).find((match) => match !== null);
  if (exit) return { kind: "EXIT", text: (exit[1] ?? "").trim(), body: [] };
  return null;
}

function describeExit(text: string): CrashDescription {
  const signal = /\bsignal=([A-Z0-9]+)\b/.exec(text)?.[1];
  const code = /\bcode=(-?\d+)\b/.exec(text)?.[1];
  // The exit code and signal name are the identity of such a death, so they are kept verbatim.
  const message =
    signal !== undefined
      ? `killed by ${signal}`
      : code !== undefined
        ? `exited with code ${code}`
        : normalizeMessage(`exited ${text}`.trim());
  return { title: message, kind: "EXIT", errorType: "EXIT", message, frames: [], crashLine: `EXIT ${text}`.trim() };
}

/**
 * "TypeError [ERR_X]: message" → type and message. Node prints a thrown non-Error as the value
 * itself ("oops", "{ code: 'E' }"), so a headline is an error only if it has the "Name: " shape,
 * or is a bare name that reads like an error class (an Error with an empty message).
 */
function splitErrorHeadline(headline: string): { errorType: string; message: string } {
  const match = /^([A-Za-z_$][\w$]*)( \[[A-Za-z][\w-]*\])?(?:(:) ?(.*))?$/.exec(headline.trim());
  if (match) {
    const [, name = "", code = "", colon, rest = ""] = match;
    if (colon !== undefined || code !== "" || /(?:Error|Exception)$/.test(name)) {
      return { errorType: `${name}${code}`, message: normalizeMessage(rest) };
    }
  }
  return { errorType: NON_ERROR_TYPE, message: normalizeMessage(headline.trim()) };
}

/**
 * "    at fn [as alias] (location:line:col)" → "fn [as alias] (base name)", or null for a line
 * that is not a stack frame. Function names are kept (they identify code across builds);
 * directories and line:column are dropped (they move between installs and builds).
 */
export function normalizeFrame(line: string): string | null {
  const frame = parseFrame(line);
  return frame === null ? null : formatFrame(frame.name, frame.location);
}

function formatFrame(name: string, location: string): string {
  const where = normalizeLocation(location);
  return name === "" ? where : `${name} (${where})`;
}

function normalizeLocation(location: string): string {
  // "eval at f (/app/x.js:1:2), <anonymous>:1:1": positions sit before ")" or "," or the end.
  if (location.includes("(")) return normalizeMessage(location.replace(/(?::\d+){1,2}(?=\)|,|$)/g, ""));
  const withoutPosition = location.replace(/(?::\d+){1,2}$/, "");
  if (/^node:/.test(withoutPosition)) return withoutPosition; // Node's own modules: stable names
  if (/[\\/]/.test(withoutPosition)) return baseName(withoutPosition);
  return normalizeMessage(withoutPosition); // "<anonymous>", "native", "index 0"
}

/**
 * The last path segment: directories differ by machine (~/…, C:\Users\…, /app/…, a global npm
 * prefix) while file names belong to the code. Works for POSIX, Windows and file:// forms.
 */
function baseName(pathText: string): string {
  const segments = pathText
    .replace(/^file:\/\/\/?/i, "")
    .split(/[\\/]+/)
    .filter((segment) => segment !== "");
  return segments[segments.length - 1] ?? pathText;
}

function shortPath(pathText: string): string {
  return `…/${baseName(pathText)}`;
}

/** Characters that end an unquoted path in a message. */
const PATH_STOP = String.raw`\s'"\x60()<>,;:`;
/**
 * Rewrite rules in order. Paths first (they can contain anything below), then times, UUIDs and
 * addresses before the plain numbers they are made of.
 */
const MESSAGE_RULES: ReadonlyArray<readonly [RegExp, (match: string, ...groups: string[]) => string]> = [
  // A quoted absolute or home path, spaces and all: open '/home/nana/My Files/x.json'.
  [
    /(['"\x60])((?:file:\/\/|~[\\/]|[A-Za-z]:[\\/]|\\\\|\/)[^'"\x60\n]*)\1/g,
    (_m, quote = "", inner = "") => `${quote}${shortPath(inner)}${quote}`,
  ],
  [new RegExp(String.raw`file:\/\/(?:\/[A-Za-z]:)?[^${PATH_STOP}]*(?::\d+){0,2}`, "gi"), (m) => shortPath(m.replace(/(?::\d+){1,2}$/, ""))],
  [new RegExp(String.raw`(?<![\w])[A-Za-z]:[\\/][^${PATH_STOP}]*(?::\d+){0,2}`, "g"), (m) => shortPath(m.replace(/(?::\d+){1,2}$/, ""))],
  [new RegExp(String.raw`\\\\[^${PATH_STOP}]+(?::\d+){0,2}`, "g"), (m) => shortPath(m.replace(/(?::\d+){1,2}$/, ""))],
  // POSIX or home path (the agent scrubs a Windows home to "~\\"); not the "//host/x" of a URL,
  // not the "/" inside "a/b", not the "/x" of an "…/x" an earlier rule wrote.
  [
    new RegExp(String.raw`(?<![\w:/\\.~…-])(?:~[\\/]|\/)[^${PATH_STOP}]+(?::\d+){0,2}`, "g"),
    (m) => shortPath(m.replace(/(?::\d+){1,2}$/, "")),
  ],
  [/\b\d{4}-\d\d-\d\d[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:?\d\d)?/g, () => "<time>"],
  [/\b\d\d:\d\d:\d\d(?:\.\d+)?\b/g, () => "<time>"],
  [/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, () => "<uuid>"],
  // IPv6 before IPv4: "::ffff:127.0.0.1" is one address. Candidates are checked in code.
  [/(?<![\w:.])(\[?)([0-9A-Fa-f:.]+)(%[\w.-]+)?(\]?)(?::(\d{1,5}))?/g, normalizeIpv6Candidate],
  [/(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?(?![\w.])/g, (m) => (m.includes(":") ? "<addr>:<port>" : "<addr>")],
  [/\blocalhost:\d{1,5}\b/gi, () => "localhost:<port>"],
  [/\b0x[0-9a-f]+\b/gi, () => "<hex>"],
  // Long hex runs are ids and hashes; a plain word made of a–f ("acceded") or a number is not.
  [/\b[0-9a-f]{8,}\b/gi, (m) => (/\d/.test(m) && /[a-f]/i.test(m) ? "<hex>" : m)],
  // Standalone numbers, also with a unit ("86400s", "512MB"); digits inside names (utf8, _listen2) stay.
  [/(?<![\w.])\d+(?:\.\d+)*/g, () => "<n>"],
];

/** Replaces what varies between machines, runs and builds with placeholders. */
export function normalizeMessage(text: string): string {
  let result = text.slice(0, MAX_LINE_CHARS);
  for (const [pattern, replace] of MESSAGE_RULES) result = result.replace(pattern, replace);
  return result.trim();
}

/**
 * An IPv6 address, with or without a port, becomes <addr> or <addr>:<port>. Node prints
 * "address:port" without brackets (":::9847", "::1:9847"), so a last group of decimal digits is
 * read as the port whenever what precedes it is an address on its own; Node's network errors
 * always carry the port, so this keeps the zombie-port crash on :: and on 127.0.0.1 the same.
 */
function normalizeIpv6Candidate(match: string, open = "", address = "", zone = "", close = "", port?: string): string {
  const withPort = port !== undefined ? ":<port>" : "";
  if (open === "[" && close === "]") return isIpv6(address) ? `[<addr>]${withPort}` : match;
  if (open !== "" || close !== "") return match; // a lone bracket: not an address form Node prints
  // Unbracketed, the port is still inside `address` (digits and ":" are in its class) unless a
  // zone ("%eth0") ended the address first.
  if (zone === "") {
    const lastColon = address.lastIndexOf(":");
    if (/^\d{1,5}$/.test(address.slice(lastColon + 1)) && isIpv6(address.slice(0, lastColon))) return "<addr>:<port>";
  }
  return isIpv6(address) ? `<addr>${withPort}` : match;
}

function isIpv6(text: string): boolean {
  if (text === "::") return true;
  if (!/\d/.test(text)) return false; // "a::b", "dead::beef" are words, not addresses we need to hide
  const groupsOf = (part: string): string[] => (part === "" ? [] : part.split(":"));
  const validGroups = (groups: string[]): number => {
    let count = 0;
    for (const [index, group] of groups.entries()) {
      if (/^[0-9A-Fa-f]{1,4}$/.test(group)) count += 1;
      else if (index === groups.length - 1 && /^(?:\d{1,3}\.){3}\d{1,3}$/.test(group)) count += 2;
      else return -1;
    }
    return count;
  };
  const halves = text.split("::");
  if (halves.length > 2) return false;
  if (halves.length === 2) {
    const head = validGroups(groupsOf(halves[0] ?? ""));
    const tail = validGroups(groupsOf(halves[1] ?? ""));
    return head >= 0 && tail >= 0 && head + tail <= 7;
  }
  return validGroups(text.split(":")) === 8;
}

function cutTitle(title: string): string {
  return title.length <= MAX_TITLE_CHARS ? title : `${title.slice(0, MAX_TITLE_CHARS - 1)}…`;
}
