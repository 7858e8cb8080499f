/**
 * Privacy filter for anything that leaves the machine: the owner's home directory becomes "~"
 * and their user name becomes "<user>". Pure (homedir and username are parameters) so it is
 * tested for Windows and POSIX inputs on any platform, and so the same crash line scrubs the
 * same way everywhere.
 *
 * Path forms handled: C:\Users\nana, C:/Users/nana, C:\\Users\\nana (as JSON escapes it),
 * /home/nana, /Users/nana, file:///C:/Users/nana. Windows paths match case-insensitively
 * because the file system does.
 */

export type Identity = { homedir: string; username: string };
export type Scrubber = (text: string) => string;

/** `\\` (JSON-escaped), `\`, or `/`: Windows accepts both slashes and text may be escaped. */
const WIN_SEP = String.raw`(?:\\\\|\\|/)`;
const NAME_CHAR = String.raw`[\p{L}\p{N}_]`;
/** A match must not be the start of a longer name: C:\Users\nana must not eat C:\Users\nanami. */
const PATH_END = String.raw`(?![\p{L}\p{N}_-]|\.[\p{L}\p{N}_])`;
const PATH_START = String.raw`(?<![\p{L}\p{N}_.-])`;

/**
 * Account names that identify no person and are also everyday words in stack traces
 * ("node:internal/...", "/app/..."): replacing them would mangle the report and protect nothing.
 * Their home directories are still replaced.
 */
const GENERIC_ACCOUNTS = new Set([
  "root", "node", "app", "admin", "administrator", "user", "users", "guest", "default", "system",
  "runner", "ubuntu", "debian", "ec2-user", "pi", "www-data", "nobody", "daemon", "home",
]);

function escapeRegex(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/]/g, "\\$&");
}

function isWindowsPath(homedir: string): boolean {
  return /^[A-Za-z]:[\\/]/.test(homedir) || /^[\\/]{2}[^\\/]/.test(homedir) || homedir.includes("\\");
}

function segments(pathText: string): string[] {
  return pathText.split(/[\\/]+/).filter((segment) => segment !== "");
}

function homedirPattern(homedir: string): RegExp | null {
  if (isWindowsPath(homedir)) {
    const drive = /^([A-Za-z]:)/.exec(homedir)?.[1];
    const rest = segments(drive ? homedir.slice(drive.length) : homedir);
    if (rest.length === 0) return null;
    // Without a drive letter it is a UNC path (\\server\share\nana): one or more leading separators.
    const lead = drive ? `${escapeRegex(drive)}${WIN_SEP}` : `(?:${WIN_SEP})+`;
    return new RegExp(PATH_START + lead + rest.map(escapeRegex).join(WIN_SEP) + PATH_END, "giu");
  }
  const rest = segments(homedir);
  if (rest.length === 0) return null; // "/" as home: nothing personal to hide.
  return new RegExp(`${PATH_START}/${rest.map(escapeRegex).join("/")}${PATH_END}`, "gu");
}

/** Where homes conventionally live, in case a line mentions the user's home by another route. */
function conventionalHomePatterns(username: string): RegExp[] {
  const user = escapeRegex(username);
  return [
    new RegExp(`${PATH_START}[A-Za-z]:${WIN_SEP}Users${WIN_SEP}${user}${PATH_END}`, "giu"),
    new RegExp(`${PATH_START}/(?:home|Users)/${user}${PATH_END}`, "gu"),
  ];
}

export function makeScrubber(identity: Identity): Scrubber {
  const username = identity.username.trim();
  const homedir = identity.homedir.trim();
  const homes: RegExp[] = [];
  const exactHome = homedir ? homedirPattern(homedir) : null;
  if (exactHome) homes.push(exactHome);
  if (username) homes.push(...conventionalHomePatterns(username));

  const replaceBareName = username.length >= 2 && !GENERIC_ACCOUNTS.has(username.toLowerCase());
  const bareName = replaceBareName
    ? new RegExp(`(?<!${NAME_CHAR})${escapeRegex(username)}(?!${NAME_CHAR})`, isWindowsPath(homedir) ? "giu" : "gu")
    : null;

  return (text) => {
    let result = text;
    for (const home of homes) result = result.replace(home, "~");
    if (bareName) result = result.replace(bareName, "<user>");
    return result;
  };
}

export function scrub(text: string, identity: Identity): string {
  return makeScrubber(identity)(text);
}
