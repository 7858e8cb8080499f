/**
 * Reading crash text in the shapes real programs print it, not only the records this agent
 * writes: where the error line is, which lines are that error's own stack, and which frames
 * belong to the runtime rather than to the program. Raw text in, raw pieces out; fingerprint.ts
 * normalizes them.
 *
 * The shapes (see test/fixtures/crash-corpus/ for real examples of each):
 *   - Node's "Unhandled 'error' event": a source location (`events.js:183`, `node:events:491`), the
 *     source line (`throw er; // Unhandled 'error' event`) and a caret line come before the error
 *     line; "Emitted 'error' event … at:" frames, `{ code: … }` properties and a `Node.js v22`
 *     footer come after it. The error line is the crash, not the location above it.
 *   - Errors dumped as objects (`{ Error: listen … port: 8080 }`, `{ [Error: x] code: … }`,
 *     `[UnhandledPromiseRejection: …] {`) and errors with a code (`Error [ERR_X]: …`).
 *   - Electron's "A JavaScript error occurred in the main process" / `Uncaught Exception:` dialog
 *     text, whose frames are sometimes not indented.
 *   - V8's `FATAL ERROR: … JavaScript heap out of memory` after GC and stack sections, and native
 *     aborts: `node[123]: ../src/x.cc:12:…: Assertion `…' failed.` or BSD's
 *     `Assertion failed: (…), function …, file …, line ….` followed by `Abort trap: 6`.
 *
 * Pure and linear like fingerprint.ts: every pattern here runs on untrusted text.
 */

/** ESC-based colour codes, and the "←[90m" form a Windows console shows them in when pasted. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: ESC is the character colour codes start with.
const ANSI_COLOUR = /(?:\x1b|\u2190)\[[0-9;]*m/g;
const MAX_LINE_CHARS = 4096;
/** Lines of message (ERR_REQUIRE_ESM's second line, blank lines) allowed between an error line and its first frame. */
const MAX_LINES_BEFORE_STACK = 10;

/** One line per element: entries with embedded newlines split, \r and colour codes dropped. */
export function cleanCrashLines(lines: readonly string[]): string[] {
  const out: string[] = [];
  for (const entry of lines) {
    for (const line of entry.split("\n")) out.push(line.slice(0, MAX_LINE_CHARS).replace(/\r$/, "").replace(ANSI_COLOUR, ""));
  }
  return out;
}

export type ErrorLine =
  /** A JavaScript error: `TypeError: x`, `Error [ERR_X]: x`, unwrapped from `{ … }`, `[…]`, `Uncaught `. */
  | { shape: "error"; index: number; name: string; code: string; message: string; text: string }
  /** V8's fatal error (`FATAL ERROR: Reached heap limit …`): the message after the colon. */
  | { shape: "fatal"; index: number; message: string; text: string }
  /** A C/C++ assertion that aborted the process; `message` is the line without the `node[pid]: ` prefix. */
  | { shape: "assertion"; index: number; message: string; text: string }
  /** The shell's word for a native death (`Segmentation fault (core dumped)`, `Abort trap: 6`). */
  | { shape: "signal"; index: number; text: string }
  /** None of the above: the first line that says anything. */
  | { shape: "plain"; index: number; text: string };

const FATAL = /^FATAL ERROR: (.+)$/;
/**
 * glibc's `prog: file:line: func: Assertion `x' failed.` (Node's own CHECKs up to 18 too), and
 * BSD's or newer Node's `Assertion failed: (x)…`. Two tests instead of one `Assertion [`'].*[`'] failed`,
 * whose `.*` would backtrack from every occurrence of the word.
 */
function isAssertion(text: string): boolean {
  return /(?:^|# *)Assertion failed: /.test(text) || (/\bAssertion [`']/.test(text) && /[`'] failed\.?$/.test(text));
}
/** The program in front of an assertion: `node: `, `/usr/local/bin/node[1096]: `. */
const ASSERTING_PROGRAM = /^\S*?node(?:\[\d+\])?: /;
const SIGNAL_WORDS = /^(?:Segmentation fault|Aborted|Abort trap|Bus error|Illegal instruction|Killed)\b/;

/**
 * The line that says what killed the process. A fatal V8 error or a native assertion wins over a
 * JavaScript error line (an error logged earlier did not kill the process; the abort did); then
 * the first JavaScript error line; then a signal word; then the first meaningful line.
 */
export function findErrorLine(lines: readonly string[]): ErrorLine | null {
  let error: ErrorLine | null = null;
  let signal: ErrorLine | null = null;
  let plain: ErrorLine | null = null;
  for (const [index, line] of lines.entries()) {
    const text = line.trim();
    if (text === "") continue;
    const fatal = FATAL.exec(text);
    if (fatal) return { shape: "fatal", index, message: (fatal[1] ?? "").trim(), text };
    if (isAssertion(text)) return { shape: "assertion", index, message: text.replace(ASSERTING_PROGRAM, ""), text };
    if (error === null) {
      const parsed = parseErrorLine(text);
      if (parsed) error = { shape: "error", index, ...parsed };
    }
    if (signal === null && SIGNAL_WORDS.test(text)) signal = { shape: "signal", index, text };
    if (plain === null && !isNoise(text)) plain = { shape: "plain", index, text };
  }
  return error ?? signal ?? plain;
}

/**
 * A JavaScript error line, strictly: the name must read like an error class (…Error, …Exception,
 * …Rejection) or carry a code, so that `SERVICE_URL: https://…` or `code: 'EADDRINUSE'` is not
 * taken for one. Wrappers Node and Electron put around errors are taken off first.
 */
export function parseErrorLine(line: string): { name: string; code: string; message: string; text: string } | null {
  // Electron's "Uncaught Exception:" stands on a line of its own or in front of the error.
  if (/^Uncaught Exception:?$/.test(line.trim())) return null;
  let text = line.trim().replace(/^Uncaught(?: Exception:?)?\s+/, "");
  const oldDump = /^\{ \[(.*?)\](?: |$)/.exec(text); // Node ≤ 6: { [Error: listen EADDRINUSE] code: … }
  if (oldDump) text = oldDump[1] ?? "";
  else if (text.startsWith("{ "))
    text = text.slice(2); // Node ≤ 10: { Error: listen … (props follow the stack)
  else {
    const bracketed = /^\[(.*)\](?: \{)?$/.exec(text); // [Error: ENOENT: …] {   [UnhandledPromiseRejection: …] {
    if (bracketed) text = bracketed[1] ?? "";
  }
  const match = /^([A-Za-z_$][\w$.]*)( \[[A-Za-z][\w-]*\])?(?:: ?(.*)|:)?$/.exec(text);
  if (!match) return null;
  const [, name = "", code = "", message = ""] = match;
  const hasColon = text.length > name.length + code.length;
  if (code === "" && !/(?:Error|Exception|Rejection)$/.test(name)) return null;
  if (!hasColon && code === "" && !/(?:Error|Exception)$/.test(name)) return null;
  return { name, code, message, text };
}

/** Lines around an error that are not the error: locations, source lines with carets, banners, footers. */
function isNoise(text: string): boolean {
  return (
    /^\S+:\d+$/.test(text) || // events.js:183, node:events:491, /home/x/index.js:9
    /^\^+$/.test(text) || // the caret under the source line
    parseFrame(text) !== null ||
    /^<---.*--->/.test(text) ||
    /^(?:=|-){3,}/.test(text) ||
    /^Node\.js v\d/.test(text) ||
    /^Emitted 'error' event\b/.test(text) ||
    /^A JavaScript error occurred in the main process$/.test(text) ||
    /^Uncaught Exception:$/.test(text)
  );
}

/**
 * The raw frame lines of the error on `lines[index]`: the frames right after it (after at most a
 * few lines of message), up to the first line that is not a frame. So the "Emitted 'error' event
 * at:" frames and a `[cause]` are not this error's stack.
 */
export function stackAfter(lines: readonly string[], index: number): string[] {
  const frames: string[] = [];
  for (let i = index + 1; i < lines.length; i++) {
    const line = lines[i] ?? "";
    if (parseFrame(line) !== null) {
      frames.push(line);
      continue;
    }
    if (frames.length > 0 || i - index > MAX_LINES_BEFORE_STACK || parseErrorLine(line) !== null) break;
  }
  return frames;
}

export type Frame = { name: string; location: string };

/**
 * "    at fn [as alias] (location:line:col)" → { name, location }, or null. Node indents frames;
 * some Electron dialogs and pasted logs do not, so an unindented "at …" counts only when it ends
 * the way a frame does (a location in parentheses or a :line:column). A trailing " {" (Node
 * printing the error's properties after the stack) is not part of the frame.
 */
export function parseFrame(line: string): Frame | null {
  const match = /^(\s*)at\s+(.*)$/.exec(line);
  if (!match) return null;
  const body = (match[2] ?? "").replace(/\s*\{$/, "").trim();
  if (match[1] === "" && !/\)$|:\d+(?::\d+)?$/.test(body)) return null;
  const open = body.endsWith(")") ? matchingOpenParen(body) : -1;
  if (open <= 0) return { name: "", location: body };
  return { name: body.slice(0, open).trim(), location: body.slice(open + 1, -1) };
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

/**
 * Frames of the runtime, not of the program: Node's own modules (`node:net` since Node 16;
 * `net.js`, `internal/…` before, printed without a directory), V8 builtins (`native`,
 * `<anonymous>`, `index 0`) and Electron's own code (electron.asar, atom.asar, default_app).
 * Their names and line numbers change with every Node and Electron release, so they must not
 * decide which crash group a report joins.
 */
export function isRuntimeFrame(location: string): boolean {
  const where = location.replace(/(?::\d+){1,2}$/, "");
  if (/^node:/.test(where) || /^internal[\\/]/.test(where)) return true;
  if (where === "native" || where === "<anonymous>" || /^index \d+$/.test(where)) return true;
  if (/(?:^|[\\/])(?:electron|atom)\.asar(?:[\\/]|$)/.test(where) || /[\\/]default_app(?:\.asar)?[\\/]/.test(where)) return true;
  // Node ≤ 14 printed its own files bare ("net.js:1351:14"); a program's file always has a directory.
  return !/[\\/]/.test(where) && /^[\w.-]+\.js$/.test(where);
}
