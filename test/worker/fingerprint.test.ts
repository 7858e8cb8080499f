/**
 * Crash fingerprints, on crash reports captured from real processes (test/fixtures/crashes.ts)
 * and on variations of them that stand for the same crash elsewhere (another machine, port,
 * time, install directory, build) or for a different crash. Runs in workerd: crypto.subtle is
 * the Workers one.
 */
import { describe, expect, it } from "vitest";
import { FINGERPRINT_FRAMES, describeCrash, fingerprint, normalizeFrame, normalizeMessage } from "../../worker/triage/fingerprint.ts";
import {
  EADDRINUSE_CRASH_LOOP,
  ENOENT_CRASH,
  JSON_PARSE_REJECTION,
  SIGKILL_EXIT,
  TYPE_ERROR_CRASH,
  WATCHDOG_EXIT,
} from "../fixtures/crashes.ts";

/** Applies text replacements to every line, asserting each one changed something. */
function vary(lines: readonly string[], ...replacements: Array<[RegExp, string]>): string[] {
  const joined = lines.join("\n");
  let varied = joined;
  for (const [pattern, replacement] of replacements) {
    const next = varied.replace(pattern, replacement);
    // A variation that changes nothing would make its test pass vacuously.
    expect(next, `${String(pattern)} changed nothing`).not.toBe(varied);
    varied = next;
  }
  return varied.split("\n");
}

async function fp(lines: readonly string[]): Promise<string> {
  return (await fingerprint(lines)).fingerprint;
}

/** From the last crash record on (EADDRINUSE_CRASH_LOOP holds two, each closed by an EXIT line). */
function lastRecord(lines: readonly string[]): string[] {
  const starts = lines.flatMap((line, index) => (/^\[[^\]]+\] (?!EXIT )/.test(line) ? [index] : []));
  return lines.slice(starts[starts.length - 1] ?? 0);
}

describe("what a fingerprint says about a real crash", () => {
  it("titles the agent's EADDRINUSE crash with the address and port replaced; Node's own frames are not the program's", async () => {
    const result = await fingerprint(EADDRINUSE_CRASH_LOOP);
    expect(result.title).toBe("Error: listen EADDRINUSE: address already in use <addr>:<port>");
    expect(result.kind).toBe("UNCAUGHT");
    expect(result.errorType).toBe("Error");
    expect(result.message).toBe("listen EADDRINUSE: address already in use <addr>:<port>");
    // Every frame is in node:net or node:internal: none identifies the program.
    expect(result.frames).toEqual([]);
    expect(result.crashLine).toBe("UNCAUGHT: Error: listen EADDRINUSE: address already in use 127.0.0.1:46243");
    expect(result.fingerprint).toMatch(/^[0-9a-f]{64}$/);
  });

  it("keeps file base names and function names of the program's frames, not directories, line:column or Node's timers", () => {
    expect(describeCrash(TYPE_ERROR_CRASH)).toEqual({
      title: "TypeError: Cannot read properties of undefined (reading 'host')",
      kind: "UNCAUGHT",
      errorType: "TypeError",
      message: "Cannot read properties of undefined (reading 'host')",
      frames: ["relayAddress (type-error.ts)", "Timeout.connectRelay [as _onTimeout] (type-error.ts)"],
      crashLine: "UNCAUGHT: TypeError: Cannot read properties of undefined (reading 'host')",
    });
  });

  it("replaces the home path in an ENOENT message by the file's base name", () => {
    const result = describeCrash(ENOENT_CRASH);
    expect(result.title).toBe("Error: ENOENT: no such file or directory, open '…/schedule.json'");
    expect(result.frames[0]).toBe("readSchedule (enoent.ts)");
  });

  it("replaces positions in a JSON.parse message and keeps the rejection's kind", () => {
    const result = describeCrash(JSON_PARSE_REJECTION);
    expect(result.kind).toBe("UNHANDLED_REJECTION");
    expect(result.title).toBe("SyntaxError: Unterminated string in JSON at position <n> (line <n> column <n>)");
    // JSON.parse (<anonymous>) is V8's builtin, not the program.
    expect(result.frames).toEqual(["loadState (json-parse.ts)"]);
  });

  it("reads a record of another kind (the watchdog's) with the kind as its error type", () => {
    const result = describeCrash(WATCHDOG_EXIT);
    expect(result.errorType).toBe("WATCHDOG");
    expect(result.title).toBe("WATCHDOG: process.exit(<n>) called by watchdog: max uptime <n>s exceeded");
    expect(result.frames).toEqual([]);
  });

  it("gives each of the captured crashes its own fingerprint", async () => {
    const all = [EADDRINUSE_CRASH_LOOP, WATCHDOG_EXIT, TYPE_ERROR_CRASH, JSON_PARSE_REJECTION, ENOENT_CRASH, SIGKILL_EXIT];
    const fingerprints = await Promise.all(all.map(fp));
    expect(new Set(fingerprints).size).toBe(all.length);
  });
});

describe("which record of a report is fingerprinted", () => {
  it("takes the last record of a crash loop", async () => {
    expect(lastRecord(EADDRINUSE_CRASH_LOOP).length).toBeLessThan(EADDRINUSE_CRASH_LOOP.length);
    expect(await fp(EADDRINUSE_CRASH_LOOP)).toBe(await fp(lastRecord(EADDRINUSE_CRASH_LOOP)));
    expect(await fp([...TYPE_ERROR_CRASH, ...EADDRINUSE_CRASH_LOOP])).toBe(await fp(EADDRINUSE_CRASH_LOOP));
    expect(await fp([...EADDRINUSE_CRASH_LOOP, ...TYPE_ERROR_CRASH])).toBe(await fp(TYPE_ERROR_CRASH));
  });

  it("ignores the crash capture's own EXIT code line", async () => {
    const withoutExit = TYPE_ERROR_CRASH.filter((line) => !line.startsWith("EXIT"));
    expect(withoutExit.length).toBe(TYPE_ERROR_CRASH.length - 1);
    expect(await fp(withoutExit)).toBe(await fp(TYPE_ERROR_CRASH));
  });

  it("counts the supervisor's EXIT line after a crash record as that crash's death", async () => {
    const last = EADDRINUSE_CRASH_LOOP[EADDRINUSE_CRASH_LOOP.length - 1] ?? "";
    expect(last).toMatch(/^\[[^\]]+\] EXIT code=1 signal=null/);
    expect(await fp(EADDRINUSE_CRASH_LOOP)).toBe(await fp(EADDRINUSE_CRASH_LOOP.slice(0, -1)));
    // The same for a record with the crash capture's own EXIT line, then the supervisor's.
    const both = [...TYPE_ERROR_CRASH, last];
    expect(await fp(both)).toBe(await fp(TYPE_ERROR_CRASH));
  });

  it("fingerprints a later death with no crash record (OOM kill) as that kill", async () => {
    const result = await fingerprint([...EADDRINUSE_CRASH_LOOP, ...SIGKILL_EXIT]);
    expect(result.title).toBe("killed by SIGKILL");
    expect(result.fingerprint).toBe(await fp(SIGKILL_EXIT));
  });

  it("fingerprints a report with only an EXIT record as its own kind", async () => {
    const result = await fingerprint(SIGKILL_EXIT);
    expect(result).toMatchObject({ kind: "EXIT", errorType: "EXIT", title: "killed by SIGKILL", frames: [] });
    const laterKill = vary(SIGKILL_EXIT, [/^\[[^\]]+\]/, "[2027-01-02T03:04:05.678Z]"]);
    expect(await fp(laterKill)).toBe(result.fingerprint);
    expect(await fp(vary(SIGKILL_EXIT, [/SIGKILL/, "SIGTERM"]))).not.toBe(result.fingerprint);
    const exitCode = await fingerprint(["[2026-11-28T13:45:17.000Z] EXIT code=3 signal=null after 2.0 s"]);
    expect(exitCode.title).toBe("exited with code 3");
    expect(exitCode.fingerprint).not.toBe(result.fingerprint);
  });

  it("skips the tail of an older record cut off by the 50-line limit", async () => {
    const cut = [...TYPE_ERROR_CRASH.slice(2), ...EADDRINUSE_CRASH_LOOP];
    expect(await fp(cut)).toBe(await fp(EADDRINUSE_CRASH_LOOP));
  });

  it("reads lines without record headers as one crash", async () => {
    const bare = lastRecord(TYPE_ERROR_CRASH).map((line) => line.replace(/^\[[^\]]+\] UNCAUGHT: /, ""));
    expect(bare[0]).toBe("TypeError: Cannot read properties of undefined (reading 'host')");
    const result = await fingerprint(bare);
    expect(result.kind).toBe("UNKNOWN");
    expect(result.fingerprint).toBe(await fp(TYPE_ERROR_CRASH));
  });

  it("names a thrown non-Error value as such", () => {
    const result = describeCrash(["[2026-11-28T13:45:17.000Z] UNHANDLED_REJECTION: { code: 'E_QUOTA', retry: 30 }", "EXIT code=1"]);
    expect(result.errorType).toBe("(not an Error)");
    expect(result.title).toBe("Unhandled rejection of a non-Error value: { code: 'E_QUOTA', retry: <n> }");
  });

  it("gives an empty report a fingerprint rather than failing", async () => {
    const result = await fingerprint([]);
    expect(result.title).toBe("empty crash report");
    expect(result.fingerprint).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe("the same crash elsewhere gets the same fingerprint", () => {
  it("on another port, address and time", async () => {
    const original = await fp(EADDRINUSE_CRASH_LOOP);
    const elsewhere = vary(
      EADDRINUSE_CRASH_LOOP,
      [/127\.0\.0\.1:\d+/g, "10.0.0.17:9847"],
      [/\[2026-[^\]]+\]/g, "[2027-03-01T00:00:00.001Z]"],
    );
    expect(await fp(elsewhere)).toBe(original);
    const ipv6 = vary(EADDRINUSE_CRASH_LOOP, [/127\.0\.0\.1:\d+/g, ":::9847"]);
    expect(await fp(ipv6)).toBe(original);
    const ipv6Loopback = vary(EADDRINUSE_CRASH_LOOP, [/127\.0\.0\.1:\d+/g, "::1:9847"]);
    expect(await fp(ipv6Loopback)).toBe(original);
  });

  it("on another build or Node patch release, with line and column numbers shifted", async () => {
    const shifted = vary(EADDRINUSE_CRASH_LOOP, [/node:net:\d+:\d+/g, "node:net:2011:9"], [/task_queues:\d+:\d+/g, "task_queues:105:5"]);
    expect(await fp(shifted)).toBe(await fp(EADDRINUSE_CRASH_LOOP));
    const rebuilt = vary(TYPE_ERROR_CRASH, [/type-error\.ts:\d+:\d+/g, "type-error.ts:40:7"]);
    expect(await fp(rebuilt)).toBe(await fp(TYPE_ERROR_CRASH));
  });

  it("installed in another directory, on Windows or POSIX", async () => {
    const original = await fp(TYPE_ERROR_CRASH);
    const installs = [
      "file:///C:/Users/nana/AppData/Roaming/npm/node_modules/buhdi-node/dist/",
      "C:\\Program Files\\Buhdi\\dist\\",
      "~\\AppData\\Local\\buhdi\\",
      "/usr/lib/node_modules/buhdi-node/dist/",
      "~/.npm-global/lib/node_modules/buhdi-node/",
    ];
    for (const install of installs) {
      const moved = vary(TYPE_ERROR_CRASH, [/file:\/\/\/app\/test\/fixtures\/crash-programs\//g, install]);
      expect(await fp(moved), install).toBe(original);
    }
  });

  it("with the missing file under another home", async () => {
    const original = await fp(ENOENT_CRASH);
    for (const home of ["C:\\Users\\Nana Smith\\.buhdi-node", "/var/lib/buhdi", "~\\.buhdi-node", "/home/<user>/.buhdi-node"]) {
      expect(await fp(vary(ENOENT_CRASH, [/~\/\.buhdi-node/, home])), home).toBe(original);
    }
  });

  it("with other numbers in the message", async () => {
    expect(await fp(vary(JSON_PARSE_REJECTION, [/position \d+ \(line \d+ column \d+\)/, "position 3 (line 1 column 4)"]))).toBe(
      await fp(JSON_PARSE_REJECTION),
    );
    expect(await fp(vary(WATCHDOG_EXIT, [/86400s/, "3600s"]))).toBe(await fp(WATCHDOG_EXIT));
  });

  it("with the program's frames below the top five differing", async () => {
    const programFrame = (name: string): string => `    at ${name} (file:///app/test/fixtures/crash-programs/type-error.ts:1:1)`;
    const withFrames = (extra: string[]): string[] => [...TYPE_ERROR_CRASH.slice(0, 3), ...extra, ...TYPE_ERROR_CRASH.slice(3)];
    const five = withFrames(["a", "b", "c"].map(programFrame));
    const six = withFrames(["a", "b", "c", "d"].map(programFrame));
    expect(describeCrash(five).frames).toHaveLength(FINGERPRINT_FRAMES);
    expect(await fp(six)).toBe(await fp(five));
    // The fifth of the program's frames still counts.
    expect(await fp(five)).not.toBe(await fp(withFrames(["a", "b", "x"].map(programFrame))));
  });

  it("on another Node major, whose own frames differ", async () => {
    const node16 = vary(
      EADDRINUSE_CRASH_LOOP,
      [/node:net:1941:16/g, "net.js:1313:16"],
      [/node:net:1998:12/g, "net.js:1361:12"],
      [/node:net:2207:7/g, "net.js:1447:7"],
      [
        /process\.processTicksAndRejections \(node:internal\/process\/task_queues:89:21\)/g,
        "processTicksAndRejections (internal/process/task_queues.js:84:21)",
      ],
    );
    expect(await fp(node16)).toBe(await fp(EADDRINUSE_CRASH_LOOP));
  });
});

describe("a different crash gets a different fingerprint", () => {
  it("when the error type differs", async () => {
    expect(await fp(vary(TYPE_ERROR_CRASH, [/UNCAUGHT: TypeError/, "UNCAUGHT: RangeError"]))).not.toBe(await fp(TYPE_ERROR_CRASH));
  });

  it("when the top frame's function or file differs", async () => {
    const original = await fp(TYPE_ERROR_CRASH);
    expect(await fp(vary(TYPE_ERROR_CRASH, [/at relayAddress/, "at relayHost"]))).not.toBe(original);
    expect(await fp(vary(TYPE_ERROR_CRASH, [/\(file:[^)]*type-error\.ts:16:19\)/, "(file:///app/relay.ts:16:19)"]))).not.toBe(original);
  });

  it("when the message says something else", async () => {
    const original = await fp(EADDRINUSE_CRASH_LOOP);
    const eacces = vary(EADDRINUSE_CRASH_LOOP, [/EADDRINUSE: address already in use/g, "EACCES: permission denied"]);
    expect(await fp(eacces)).not.toBe(original);
    expect(await fp(vary(TYPE_ERROR_CRASH, [/reading 'host'/, "reading 'port'"]))).not.toBe(await fp(TYPE_ERROR_CRASH));
  });
});

describe("normalizing messages and frames", () => {
  it.each([
    ["connect ECONNREFUSED 127.0.0.1:9847", "connect ECONNREFUSED <addr>:<port>"],
    ["connect ECONNREFUSED [::1]:9847", "connect ECONNREFUSED [<addr>]:<port>"],
    ["getaddrinfo failed for fe80::1%eth0 and 2001:db8::8a2e:73af", "getaddrinfo failed for <addr> and <addr>"],
    ["mapped ::ffff:192.168.1.20:443", "mapped <addr>:<port>"],
    ["fetch http://localhost:8787/api/node/telemetry failed", "fetch http://localhost:<port>/api/node/telemetry failed"],
    ["node 8a0c6a56-52a3-4f39-9e9b-0b6c1c4f6f34 at 2026-11-28T13:45:16.801Z", "node <uuid> at <time>"],
    ["object 0x7ffd1c2a at sha deadbeef0123 (not a hash: acceded)", "object <hex> at sha <hex> (not a hash: acceded)"],
    ["heap 512MB after 250ms on utf8 _listen2", "heap <n>MB after <n>ms on utf8 _listen2"],
    ["open 'C:\\Users\\Nana Smith\\buhdi\\state.json'", "open '…/state.json'"],
    ["load C:\\buhdi\\dist\\main.js:12:3 failed", "load …/main.js failed"],
    ["import file:///C:/buhdi/dist/main.mjs:3:7 failed", "import …/main.mjs failed"],
    ["read \\\\nas\\share\\buhdi\\x.json and ~/a/b.json and ~\\c\\d.json", "read …/x.json and …/b.json and …/d.json"],
    ["names with colons like std::vector and dead::beef stay", "names with colons like std::vector and dead::beef stay"],
  ])("%s", (input, expected) => {
    expect(normalizeMessage(input)).toBe(expected);
  });

  it.each([
    ["    at Object.<anonymous> (C:\\Users\\nana\\buhdi\\dist\\index.js:12:5)", "Object.<anonymous> (index.js)"],
    ["    at file:///C:/Users/nana/app/x.mjs:3:7", "x.mjs"],
    ["    at /home/nana/.npm/lib/node_modules/buhdi-node/dist/daemon.js:100:3", "daemon.js"],
    ["    at async Promise.all (index 3)", "async Promise.all (index <n>)"],
    ["    at eval (eval at run (/app/x.js:1:2), <anonymous>:1:1)", "eval (eval at run (…/x.js), <anonymous>)"],
    ["    at new Promise (<anonymous>)", "new Promise (<anonymous>)"],
  ])("%s", (line, expected) => {
    expect(normalizeFrame(line)).toBe(expected);
  });

  it("is not a frame unless it is an indented at-line", () => {
    expect(normalizeFrame("EXIT code=1")).toBeNull();
    expect(normalizeFrame("at the start of a line")).toBeNull();
  });
});
