import { describe, expect, it } from "vitest";
import { makeScrubber, scrub } from "../../agent/scrub.ts";

const windows = { homedir: "C:\\Users\\nana", username: "nana" };
const linux = { homedir: "/home/nana", username: "nana" };
const mac = { homedir: "/Users/nana", username: "nana" };

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
    ["a conventional home seen from an odd homedir", { homedir: "/var/lib/nana", username: "nana" }, "/home/nana/x.js and /var/lib/nana/y.js", "~/x.js and ~/y.js"],
    ["a Windows user's path while the agent runs on POSIX", linux, "at C:\\Users\\nana\\x.js", "at ~\\x.js"],
    ["every occurrence on the line", linux, "/home/nana/a.js -> /home/nana/b.js", "~/a.js -> ~/b.js"],
    ["a UNC home", { homedir: "\\\\fileserver\\homes\\nana", username: "nana" }, "at \\\\fileserver\\homes\\nana\\x.js", "at ~\\x.js"],
  ])("%s", (_name, identity, input, expected) => {
    expect(scrub(input, identity)).toBe(expected);
  });
});

describe("scrub replaces the bare user name with <user>", () => {
  it.each([
    ["a name on its own", linux, "owner nana said hi", "owner <user> said hi"],
    ["a name in another folder", linux, "/srv/backups/nana/x.js", "/srv/backups/<user>/x.js"],
    ["a name joined by a hyphen", linux, "host nana-laptop", "host <user>-laptop"],
    ["a sibling of the home: not ~, but the name is hidden", linux, "/home/nana.old/x.js", "/home/<user>.old/x.js"],
    ["a Windows name in any case", windows, "D:\\Projects\\Nana\\x.js", "D:\\Projects\\<user>\\x.js"],
    ["a user name with regex characters", { homedir: "/home/j.doe+1", username: "j.doe+1" }, "/home/j.doe+1/x j.doe+1 jxdoe+1", "~/x <user> jxdoe+1"],
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
    ["a line with no personal data", linux, "    at Server.setupListenHandle [as _listen2] (node:net:1908:16)", "    at Server.setupListenHandle [as _listen2] (node:net:1908:16)"],
    ["node: internals when the account is called node", { homedir: "/home/node", username: "node" }, "at node:net:1908:16 (/home/node/app/x.js)", "at node:net:1908:16 (~/app/x.js)"],
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
