import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { makeScrubber, scrub } from "../../../agent/crash/scrub.ts";

const windows = { homedir: "C:\\Users\\nana", username: "nana" };
const linux = { homedir: "/home/nana", username: "nana" };
const mac = { homedir: "/Users/nana", username: "nana" };
const spacedLinux = { homedir: "/home/Nana Smith", username: "nana" };
const spacedWindows = { homedir: "C:\\Users\\Nana Smith", username: "Nana Smith" };

describe("scrub replaces the home directory with ~", () => {
  it.each([
    ["a Windows stack line", windows, "    at run (C:\\Users\\nana\\AppData\\x.js:10:5)", "    at run (~\\AppData\\x.js:10:5)"],
    ["a Windows path with forward slashes", windows, "at C:/Users/nana/AppData/x.js:1:1", "at ~/AppData/x.js:1:1"],
    ["a Windows path escaped as in JSON", windows, '{"file":"C:\\\\Users\\\\nana\\\\AppData\\\\x.js"}', '{"file":"~\\\\AppData\\\\x.js"}'],
    ["a Windows path in other letter case", windows, "at c:\\users\\NANA\\app\\x.js", "at ~\\app\\x.js"],
    ["a file URL of a Windows path", windows, "at file:///C:/Users/nana/app/x.js:3:7", "at file:///~/app/x.js:3:7"],
    ["the Windows home itself at the end of a line", windows, "cwd=C:\\Users\\nana", "cwd=~"],
    ["a Linux stack line", linux, "    at run (/home/nana/app/x.js:10:5)", "    at run (~/app/x.js:10:5)"],
    ["a macOS stack line", mac, "    at run (/Users/nana/app/x.js:10:5)", "    at run (~/app/x.js:10:5)"],
    [
      "a conventional home seen from an odd homedir",
      { homedir: "/var/lib/nana", username: "nana" },
      "/home/nana/x.js and /var/lib/nana/y.js",
      "~/x.js and ~/y.js",
    ],
    ["a Windows user's path while the agent runs on POSIX", linux, "at C:\\Users\\nana\\x.js", "at ~\\x.js"],
    ["every occurrence on the line", linux, "/home/nana/a.js -> /home/nana/b.js", "~/a.js -> ~/b.js"],
    ["a UNC home", { homedir: "\\\\fileserver\\homes\\nana", username: "nana" }, "at \\\\fileserver\\homes\\nana\\x.js", "at ~\\x.js"],
  ])("%s", (_name, identity, input, expected) => {
    expect(scrub(input, identity)).toBe(expected);
  });
});

describe("scrub removes a home whose name has a space, an apostrophe or accents, in every form", () => {
  it.each([
    [
      "a percent-encoded file URL of the ESM bundle (POSIX)",
      spacedLinux,
      "    at run (file:///home/Nana%20Smith/.buhdi-node/versions/9.0.1/buhdi-node.mjs:15524:11)",
      "    at run (file://~/.buhdi-node/versions/9.0.1/buhdi-node.mjs:15524:11)",
    ], // the home includes its leading /
    [
      "a percent-encoded file URL of a Windows home",
      spacedWindows,
      "at file:///C:/Users/Nana%20Smith/.buhdi-node/versions/9.0.1/buhdi-node.mjs:15524:11",
      "at file:///~/.buhdi-node/versions/9.0.1/buhdi-node.mjs:15524:11",
    ],
    [
      "lower-case hex and another letter case in a Windows file URL",
      spacedWindows,
      "file:///c:/users/NANA%20smith/x.mjs",
      "file:///~/x.mjs",
    ],
    ["a plain POSIX path with the space", spacedLinux, "open '/home/Nana Smith/.buhdi-node/x.json'", "open '~/.buhdi-node/x.json'"],
    ["a Windows 8.3 short name of the home", spacedWindows, "at C:\\Users\\NANASM~1\\AppData\\x.js:1:1", "at ~\\AppData\\x.js:1:1"],
    ["a Windows 8.3 short name in lower case", spacedWindows, "c:/users/nanasm~2/x.js", "~/x.js"],
    [
      "an apostrophe, literal and percent-encoded",
      { homedir: "/home/O'Brien", username: "obrien" },
      "/home/O'Brien/a.js file:///home/O%27Brien/b.js",
      "~/a.js file://~/b.js",
    ],
    [
      "non-ASCII letters percent-encoded as UTF-8",
      { homedir: "/Users/Zoë", username: "zoe" },
      "file:///Users/Zo%C3%ABb.js file:///Users/Zo%C3%AB/b.js",
      "file:///Users/Zo%C3%ABb.js file://~/b.js",
    ],
    [
      "non-ASCII letters in the other Unicode normal form (macOS paths are NFD)",
      { homedir: "/Users/Zoë", username: "zoe" },
      "/Users/Zoe\u0308/b.js",
      "~/b.js",
    ],
    [
      "a Windows home with accents in another letter case, percent-encoded",
      { homedir: "C:\\Users\\José", username: "José" },
      "file:///C:/Users/JOS%C3%89/x.js",
      "file:///~/x.js",
    ],
  ])("%s", (_name, identity, input, expected) => {
    expect(scrub(input, identity)).toBe(expected);
  });

  it("the home's own folder name is hidden wherever it appears, like the user name", () => {
    expect(scrub("copied from /srv/backup/Nana Smith/x and file:///srv/backup/Nana%20Smith/y", spacedLinux)).toBe(
      "copied from /srv/backup/<user>/x and file:///srv/backup/<user>/y",
    );
  });
});

describe("scrub replaces the bare user name with <user>", () => {
  it.each([
    ["a name on its own", linux, "owner nana said hi", "owner <user> said hi"],
    ["a name in another folder", linux, "/srv/backups/nana/x.js", "/srv/backups/<user>/x.js"],
    ["a name joined by a hyphen", linux, "host nana-laptop", "host <user>-laptop"],
    ["a sibling of the home: not ~, but the name is hidden", linux, "/home/nana.old/x.js", "/home/<user>.old/x.js"],
    ["a Windows name in any case", windows, "D:\\Projects\\Nana\\x.js", "D:\\Projects\\<user>\\x.js"],
    [
      "a user name with regex characters",
      { homedir: "/home/j.doe+1", username: "j.doe+1" },
      "/home/j.doe+1/x j.doe+1 jxdoe+1",
      "~/x <user> jxdoe+1",
    ],
    ["a non-ASCII user name", { homedir: "/home/josé", username: "josé" }, "/home/josé/x.js by josé", "~/x.js by <user>"],
  ])("%s", (_name, identity, input, expected) => {
    expect(scrub(input, identity)).toBe(expected);
  });
});

describe("scrub leaves what is not the user alone", () => {
  it.each([
    ["a longer user name that starts with the name", windows, "C:\\Users\\nanami\\x.js", "C:\\Users\\nanami\\x.js"],
    ["a longer POSIX home that starts with the home", linux, "/home/nanami/x.js", "/home/nanami/x.js"],
    ["the name inside another word", linux, "banana nanas ananas", "banana nanas ananas"],
    ["a POSIX name in another letter case", linux, "Nana", "Nana"],
    [
      "a line with no personal data",
      linux,
      "    at Server.setupListenHandle [as _listen2] (node:net:1908:16)",
      "    at Server.setupListenHandle [as _listen2] (node:net:1908:16)",
    ],
    [
      "node: internals when the account is called node",
      { homedir: "/home/node", username: "node" },
      "at node:net:1908:16 (/home/node/app/x.js)",
      "at node:net:1908:16 (~/app/x.js)",
    ],
    ["everything when identity is unknown", { homedir: "", username: "" }, "/home/nana/x.js", "/home/nana/x.js"],
    ["everything under / as home", { homedir: "/", username: "" }, "/etc/x.js", "/etc/x.js"],
  ])("%s", (_name, identity, input, expected) => {
    expect(scrub(input, identity)).toBe(expected);
  });
});

it("a compiled scrubber gives the same answer on every call (no regex state leaks between lines)", () => {
  const scrubber = makeScrubber(windows);
  const line = "at C:\\Users\\nana\\x.js by nana";
  expect([scrubber(line), scrubber(line), scrubber(line)]).toEqual(Array(3).fill("at ~\\x.js by <user>"));
});

describe("property: nothing of the home or the user name survives, and the error and the bundle frame do", () => {
  const letter = fc.constantFrom(
    ..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "é",
    "ë",
    "ñ",
    "ø",
    "å",
    "ç",
    "ü",
    "É",
    "Ö",
    "Ж",
    "д",
  );
  const inner = fc.oneof({ weight: 6, arbitrary: letter }, { weight: 1, arbitrary: fc.constantFrom(" ", "'", "-") });
  /** 3 to 12 characters, starting and ending with a letter (Windows trims spaces and dots). */
  const name = fc.tuple(letter, fc.array(inner, { minLength: 1, maxLength: 10 }), letter).map(([a, mid, z]) => `${a}${mid.join("")}${z}`);
  const ERROR = "Error: EACCES: permission denied, open";
  const FRAME = "buhdi-node.mjs:15524:11";

  /** What a URL encoder makes of a path: UTF-8 percent-encoded, apostrophes either way. */
  const fileUrlPath = (segments: string[], quoteApostrophe: boolean, lowerHex: boolean): string =>
    segments
      .map((segment) => {
        let encoded = encodeURIComponent(segment);
        if (quoteApostrophe) encoded = encoded.replace(/'/g, "%27");
        return lowerHex ? encoded.replace(/%[0-9A-F]{2}/g, (x) => x.toLowerCase()) : encoded;
      })
      .join("/");

  /** Windows' 8.3 short name, as Windows makes the first one: 6 upper-case characters and ~1. */
  const shortName = (long: string): string => {
    const base = long
      .toUpperCase()
      .replace(/[ .]/g, "")
      .replace(/[^A-Z0-9!#$%&'()@^_`{}~-]/g, "_");
    return `${base.slice(0, 6)}~1`;
  };

  const template = (home: string, url: string, sep: string) =>
    `${ERROR} '${home}${sep}.buhdi-node${sep}config.json'\n    at load (${url}/.buhdi-node/versions/9.0.1/${FRAME})`;

  const survives = (text: string, needle: string, caseless: boolean) =>
    caseless ? text.toLowerCase().includes(needle.toLowerCase()) : text.includes(needle);

  it("POSIX homes: plain paths and file URLs", () => {
    fc.assert(
      fc.property(name, name, fc.constantFrom("/home", "/Users"), fc.boolean(), fc.boolean(), (folder, user, root, quote, lowerHex) => {
        const homedir = `${root}/${folder}`;
        const url = `file://${fileUrlPath(homedir.split("/"), quote, lowerHex)}`;
        const raw = `${template(homedir, url, "/")} by ${user} in ${JSON.stringify({ home: homedir })}`;
        fc.pre(
          ![folder, user].some((n) => survives(template("/x", "file:///x", "/"), n, false) || /^(user|users|home|node|app|root)$/i.test(n)),
        );
        const out = scrub(raw, { homedir, username: user });
        for (const needle of [homedir, folder, user, encodeURIComponent(folder), encodeURIComponent(user)]) {
          expect(out, `${needle} survived in ${out}`).not.toContain(needle);
        }
        expect(out).toContain(ERROR);
        expect(out).toContain(FRAME);
      }),
      { numRuns: 300 },
    );
  });

  it("Windows homes: both slashes, JSON escapes, file URLs, any letter case and 8.3 short names", () => {
    fc.assert(
      fc.property(
        name,
        fc.constantFrom("C", "D"),
        fc.constantFrom("as is", "upper", "lower"),
        fc.boolean(),
        (user, drive, letterCase, quote) => {
          const homedir = `${drive}:\\Users\\${user}`;
          const recase = (text: string) =>
            letterCase === "upper" ? text.toUpperCase() : letterCase === "lower" ? text.toLowerCase() : text;
          const seen = recase(homedir);
          const url = `file:///${fileUrlPath(recase(`${drive}:/Users/${user}`).split("/"), quote, false)}`;
          const short = `${drive}:\\Users\\${shortName(user)}`;
          const raw = [
            template(seen, url, "\\"),
            template(seen.replace(/\\/g, "/"), url, "/"),
            JSON.stringify({ path: `${seen}\\.buhdi-node` }),
            `at ${short}\\AppData\\${FRAME}`,
            `owner ${recase(user)}`,
          ].join("\n");
          fc.pre(
            !survives(`${template("C:\\x", "file:///C:/x", "\\")}AppData owner path`, user, true) &&
              !/^(user|users|home|node|app|root|admin|guest)$/i.test(user),
          );
          const out = scrub(raw, { homedir, username: user });
          for (const needle of [user, encodeURIComponent(user), shortName(user)]) {
            expect(survives(out, needle, true), `${needle} survived in ${out}`).toBe(false);
          }
          expect(out).toContain(ERROR);
          expect(out).toContain(FRAME);
        },
      ),
      { numRuns: 300 },
    );
  });
});
