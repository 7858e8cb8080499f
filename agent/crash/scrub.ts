/**
 * Privacy filter for anything that leaves the machine: the owner's home directory becomes "~"
 * and their user name becomes "<user>". Pure (homedir and username are parameters) so it is
 * tested for Windows and POSIX inputs on any platform, and so the same crash line scrubs the
 * same way everywhere.
 *
 * Path forms handled: C:\Users\nana, C:/Users/nana, C:\\Users\\nana (as JSON escapes it),
 * /home/nana, /Users/nana, and file URLs of each, percent-encoded as URLs are (the ESM bundle's
 * stack frames: file:///home/Nana%20Smith/...). Windows paths match case-insensitively because
 * the file system does, and also by their 8.3 short names (C:\Users\NANASM~1). Names may hold
 * spaces, apostrophes and any letters (José, O'Brien, Zoë, in either Unicode normal form).
 */
import type { Json, TelemetryEvent } from "../../protocol/index.ts";

export type Identity = { homedir: string; username: string };
export type Scrubber = (text: string) => string;

/** `\\` (JSON-escaped), `\`, `/`, or either percent-encoded: Windows accepts both slashes. */
const WIN_SEP = String.raw`(?:\\\\|\\|/|%5[Cc]|%2[Ff])`;
const POSIX_SEP = "(?:/|%2[Ff])";
const NAME_CHAR = String.raw`[\p{L}\p{N}_]`;
/**
 * A match must not be the start of a longer name: C:\Users\nana must not eat C:\Users\nanami,
 * nor /home/jos eat /home/jos%C3%A9 (an encoded separator is still an end).
 */
const PATH_END = String.raw`(?![\p{L}\p{N}_-]|\.[\p{L}\p{N}_]|%(?!2[Ff]|5[Cc])[0-9A-Fa-f]{2})`;
const PATH_START = String.raw`(?<![\p{L}\p{N}_.-])`;
/** Before a bare name: no name character, except the hex digit ending a %XX (`%20Nana`). */
const NAME_START = `(?<!(?<!%[0-9A-Fa-f]?)${NAME_CHAR})`;
const NAME_END = `(?!${NAME_CHAR}|%(?!2[0Ff]|5[Cc]|2[27])[0-9A-Fa-f]{2})`;

/**
 * Account names that identify no person and are also everyday words in stack traces
 * ("node:internal/...", "/app/..."): replacing them would mangle the report and protect nothing.
 * Their home directories are still replaced.
 */
const GENERIC_ACCOUNTS = new Set([
  "root",
  "node",
  "app",
  "admin",
  "administrator",
  "user",
  "users",
  "guest",
  "default",
  "system",
  "runner",
  "ubuntu",
  "debian",
  "ec2-user",
  "pi",
  "www-data",
  "nobody",
  "daemon",
  "home",
]);

function escapeRegex(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/]/g, "\\$&");
}

/** `é` → `%[Cc]3%[Aa]9`: its UTF-8 bytes as a URL encoder writes them, in either hex case. */
function percentEncoded(text: string): string {
  return [...new TextEncoder().encode(text)]
    .map((byte) => {
      const hex = byte.toString(16).toUpperCase().padStart(2, "0");
      return `%${[...hex].map((d) => (/[A-F]/.test(d) ? `[${d}${d.toLowerCase()}]` : d)).join("")}`;
    })
    .join("");
}

/**
 * One character of a name in every way text may carry it: as itself or percent-encoded, in
 * either Unicode normal form (macOS writes paths decomposed), and on Windows in either letter
 * case (an encoded É is other bytes than an encoded é, so the `i` flag alone does not cover it).
 */
function charPattern(ch: string, windows: boolean): string {
  const cases = windows ? [ch, ch.toLowerCase(), ch.toUpperCase()] : [ch];
  const forms = new Set(cases.flatMap((c) => [c.normalize("NFC"), c.normalize("NFD")]));
  const alternatives = new Set([...forms].flatMap((form) => [escapeRegex(form), percentEncoded(form)]));
  return alternatives.size === 1 ? [...alternatives][0]! : `(?:${[...alternatives].join("|")})`;
}

function namePattern(name: string, windows: boolean): string {
  return [...name.normalize("NFC")].map((ch) => charPattern(ch, windows)).join("");
}

/**
 * The 8.3 short names Windows gives a long folder name (C:\Users\NANASM~1 for "Nana Smith"): up
 * to six characters of it upper-cased without spaces and dots, a letter Windows cannot keep
 * written as itself, its base letter or "_", then ~N; after four clashes, two characters, four
 * hex digits and ~N. Matched without regard to case.
 */
function shortNamePattern(name: string, withHashed: boolean): string | null {
  const units: string[] = [];
  for (const ch of name.normalize("NFC").toUpperCase()) {
    if (ch === " " || ch === ".") continue;
    if (/[A-Z0-9!#$%&'()@^_`{}~-]/.test(ch)) units.push(escapeRegex(ch));
    else if (/[+,;=[\]]/.test(ch)) units.push("_");
    else {
      const base = ch.normalize("NFD").replace(/\p{M}/gu, "");
      units.push(`(?:${[...new Set([escapeRegex(ch), escapeRegex(base), "_"])].join("|")})`);
    }
  }
  if (units.length === 0) return null;
  const tilde = "(?:~|%7[Ee])";
  const forms = [`${units.slice(0, 6).join("")}${tilde}\\d{1,6}`];
  if (withHashed) forms.push(`${units.slice(0, 2).join("")}[0-9A-Fa-f]{4}${tilde}\\d`);
  return `(?:${forms.join("|")})`;
}

function isWindowsPath(homedir: string): boolean {
  return /^[A-Za-z]:[\\/]/.test(homedir) || /^[\\/]{2}[^\\/]/.test(homedir) || homedir.includes("\\");
}

function segments(pathText: string): string[] {
  return pathText.split(/[\\/]+/).filter((segment) => segment !== "");
}

/** The last segment on Windows: its long name or any of its 8.3 short names. */
function windowsLastSegment(segment: string): string {
  const short = shortNamePattern(segment, true);
  return short ? `(?:${namePattern(segment, true)}|${short})` : namePattern(segment, true);
}

function homedirPattern(homedir: string): RegExp | null {
  if (isWindowsPath(homedir)) {
    const drive = /^([A-Za-z]):/.exec(homedir)?.[1];
    const rest = segments(drive ? homedir.slice(2) : homedir);
    if (rest.length === 0) return null;
    // Without a drive letter it is a UNC path (\\server\share\nana): one or more leading separators.
    const lead = drive ? `${escapeRegex(drive)}(?::|%3[Aa]|\\|)${WIN_SEP}` : `(?:${WIN_SEP})+`;
    const body = [...rest.slice(0, -1).map((segment) => namePattern(segment, true)), windowsLastSegment(rest.at(-1)!)].join(WIN_SEP);
    return new RegExp(PATH_START + lead + body + PATH_END, "giu");
  }
  const rest = segments(homedir);
  if (rest.length === 0) return null; // "/" as home: nothing personal to hide.
  return new RegExp(`${PATH_START}${POSIX_SEP}${rest.map((segment) => namePattern(segment, false)).join(POSIX_SEP)}${PATH_END}`, "gu");
}

/** Where homes conventionally live, in case a line mentions the user's home by another route. */
function conventionalHomePatterns(username: string): RegExp[] {
  return [
    new RegExp(`${PATH_START}[A-Za-z](?::|%3[Aa]|\\|)${WIN_SEP}Users${WIN_SEP}${windowsLastSegment(username)}${PATH_END}`, "giu"),
    new RegExp(`${PATH_START}${POSIX_SEP}(?:home|Users)${POSIX_SEP}${namePattern(username, false)}${PATH_END}`, "gu"),
  ];
}

/** The user name, and the home's own folder name (often the owner's full name), wherever they appear. */
function bareNamePatterns(names: string[], windows: boolean): RegExp[] {
  const patterns: RegExp[] = [];
  for (const name of new Set(names)) {
    if (name.length < 2 || GENERIC_ACCOUNTS.has(name.toLowerCase())) continue;
    const short = windows ? shortNamePattern(name, false) : null;
    const body = short ? `(?:${namePattern(name, windows)}|${short})` : namePattern(name, windows);
    patterns.push(new RegExp(`${NAME_START}${body}${NAME_END}`, windows ? "giu" : "gu"));
  }
  return patterns;
}

export function makeScrubber(identity: Identity): Scrubber {
  const username = identity.username.trim();
  const homedir = identity.homedir.trim();
  const windows = isWindowsPath(homedir);
  const homes: RegExp[] = [];
  const exactHome = homedir ? homedirPattern(homedir) : null;
  if (exactHome) homes.push(exactHome);
  if (username) homes.push(...conventionalHomePatterns(username));
  const folder = segments(homedir).at(-1) ?? "";
  const names = bareNamePatterns(
    [username, folder].filter((name) => name !== ""),
    windows,
  );

  return (text) => {
    let result = text;
    for (const home of homes) result = result.replace(home, "~");
    for (const name of names) result = result.replace(name, "<user>");
    return result;
  };
}

export function scrub(text: string, identity: Identity): string {
  return makeScrubber(identity)(text);
}

/** Every string in a JSON value, scrubbed (keys are the code's own, not data). */
export function scrubJson(value: Json, scrubber: Scrubber): Json {
  if (typeof value === "string") return scrubber(value);
  if (Array.isArray(value)) return value.map((item) => scrubJson(item, scrubber));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, scrubJson(item, scrubber)]));
  }
  return value;
}

/**
 * A telemetry event as it may leave the machine: its free text (entries, and every string in
 * details: an update's reason carries the error message of a failed install, path and all)
 * scrubbed. Scrubbing is idempotent, so lines scrubbed when the report was built are unchanged.
 */
export function scrubEvent(event: TelemetryEvent, scrubber: Scrubber): TelemetryEvent {
  const entries = event.entries.map(scrubber);
  if (event.details === undefined || event.details === null) return { ...event, entries };
  return { ...event, entries, details: scrubJson(event.details, scrubber) as typeof event.details };
}
