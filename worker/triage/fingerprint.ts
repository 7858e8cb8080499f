/**
 * Crash fingerprints: which crash reports are "the same crash". A report is the crash.log lines a
 * node uploaded; its fingerprint is a SHA-256 over the most recent crash's error type, message
 * and top stack frames with everything that differs between machines, runs and builds taken out
 * (ports, addresses, ids, numbers, times, install directories, line:column). So the zombie-port
 * crash on Nana's laptop and on a server a week later, one build apart, group together, while a
 * different error type or a different top frame starts a new group.
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

export type CrashFingerprint = {
  /** Hex SHA-256 of the normalized error type, message and frames. */
  fingerprint: string;
  /** Readable and stable, e.g. "Error: listen EADDRINUSE: address already in use <addr>:<port>". */
  title: string;
  /**
   * The record kind: UNCAUGHT, UNHANDLED_REJECTION, EXIT, another record word (WATCHDOG), UNKNOWN
   * (lines without a record header) or EMPTY (no lines).
   */
  kind: string;
  /** "TypeError", "Error", "TypeError [ERR_INVALID_ARG_TYPE]"; the kind for non-error records. */
  errorType: string;
  /** The message with variable parts replaced by placeholders. */
  message: string;
  /** The top stack frames, normalized: "relayAddress (type-error.ts)", "listenInCluster (node:net)". */
  frames: string[];
};

export type CrashDescription = Omit<CrashFingerprint, "fingerprint">;

/** How many frames from the top identify a crash; deeper frames vary with who called. */
export const FINGERPRINT_FRAMES = 5;
/** Titles are for lists and subjects; the full normalized message stays in `message`. */
export const MAX_TITLE_CHARS = 200;
/** Same bound as the protocol's per-line limit, so a caller that skipped validation costs no more. */
const MAX_LINE_CHARS = 4096;
/** Bumped if normalization changes, so old and new fingerprints never collide by accident. */
const FINGERPRINT_SCHEME = "buhdi-crash-v1";

const NON_ERROR_TYPE = "(not an Error)";

/** "[<ISO time>] KIND" then ": text" or " text"; KIND is an upper-case word (UNCAUGHT, EXIT, ...). */
const RECORD_HEADER = /^\[\d{4}-\d\d-\d\dT[0-9:.]+(?:Z|[+-]\d\d:?\d\d)\] ([A-Z][A-Z0-9_]*)(?::? (.*)|:)?$/;
/** The crash capture's own last line inside a record; not part of the error. */
const BARE_EXIT = /^EXIT\b(.*)$/;
const STACK_LINE = /^\s+at\s+(.*)$/;

type CrashRecord = { kind: string; text: string; body: string[] };

export async function fingerprint(lines: readonly string[]): Promise<CrashFingerprint> {
  const description = describeCrash(lines);
  const key = JSON.stringify([FINGERPRINT_SCHEME, description.errorType, description.message, description.frames]);
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key));
  return { fingerprint: toHex(digest), ...description };
}

/** The most recent crash in the lines, normalized; the synchronous part of fingerprint(). */
export function describeCrash(lines: readonly string[]): CrashDescription {
  const clean = lines.map((line) => line.slice(0, MAX_LINE_CHARS).replace(/\r$/, ""));
  const record = lastDeath(clean);
  if (record === null) return { title: "empty crash report", kind: "EMPTY", errorType: "", message: "", frames: [] };
  if (record.kind === "EXIT") return describeExit(record.text);
  const frames = topFrames(record.body);
  if (record.kind === "UNCAUGHT" || record.kind === "UNHANDLED_REJECTION" || record.kind === "UNKNOWN") {
    const { errorType, message } = splitErrorHeadline(record.text);
    return { title: cutTitle(errorTitle(record.kind, errorType, message)), kind: record.kind, errorType, message, frames };
  }
  // Any other record word (WATCHDOG, ...) is its own error type: its text is the message.
  const message = normalizeMessage(record.text);
  return { title: cutTitle(`${record.kind}: ${message}`), kind: record.kind, errorType: record.kind, message, frames };
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

/** Lines without any record header (an older agent, a hand-made report): read them as one record. */
function headerlessRecord(lines: string[]): CrashRecord | null {
  const meaningful = lines.filter((line) => line.trim() !== "");
  const headline = meaningful.find((line) => !STACK_LINE.test(line) && !BARE_EXIT.test(line));
  if (headline !== undefined) return { kind: "UNKNOWN", text: headline.trim(), body: meaningful };
  const exit = meaningful.map((line) => BARE_EXIT.exec(line)).find((match) => match !== null);
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
  return { title: message, kind: "EXIT", errorType: "EXIT", message, frames: [] };
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

function topFrames(body: string[]): string[] {
  const frames: string[] = [];
  for (const line of body) {
    if (frames.length === FINGERPRINT_FRAMES) break;
    const frame = normalizeFrame(line);
    if (frame !== null) frames.push(frame);
  }
  return frames;
}

/**
 * "    at fn [as alias] (location:line:col)" → "fn [as alias] (base name)", or null for a line
 * that is not a stack frame. Function names are kept (they identify code across builds);
 * directories and line:column are dropped (they move between installs and builds).
 */
export function normalizeFrame(line: string): string | null {
  const match = STACK_LINE.exec(line);
  if (!match) return null;
  const body = (match[1] ?? "").trim();
  const open = body.endsWith(")") ? matchingOpenParen(body) : -1;
  if (open <= 0) return normalizeLocation(body);
  const name = body.slice(0, open).trim();
  const location = normalizeLocation(body.slice(open + 1, -1));
  return name === "" ? location : `${name} (${location})`;
}

/** Index of the "(" that the final ")" closes: eval frames nest "(eval at f (file:1:2), <anonymous>:1:1)". */
function matchingOpenParen(text: string): number {
  let depth = 0;
  for (let i = text.length - 1; i >= 0; i--) {
    const char = text[i];
    if (char === ")") depth++;
    else if (char === "(" && --depth === 0) return i;
  }
  return -1;
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
