/**
 * Triage on crash texts from the wild (test/fixtures/crash-corpus/, each with its public source
 * in SOURCES.md): Node 0.8 to 24 on Windows, macOS and Linux, Electron dialogs, heap OOMs and
 * native aborts. Pins each text's group title and group, that the bridge message names the error
 * line, that the same error from the same code groups together across Node versions and systems,
 * that different errors never merge, and that the seeded known issue matches every EADDRINUSE.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { enabledKnownIssues } from "../../worker/db/triage.ts";
import { bridgeMessage } from "../../worker/triage/bridge-message.ts";
import { fingerprint, normalizeMessage } from "../../worker/triage/fingerprint.ts";
import { matchKnownIssue } from "../../worker/triage/known-issue-matcher.ts";
import { EADDRINUSE_CRASH_LOOP } from "../fixtures/crashes.ts";
import { enrollNode } from "./helpers.ts";
import { deliver, ingestCrash, row } from "./triage-helpers.ts";

const texts = import.meta.glob<string>("../fixtures/crash-corpus/*.txt", { query: "?raw", import: "default", eager: true });
const corpus = new Map(Object.entries(texts).map(([path, text]) => [path.replace(/^.*\//, ""), text]));

function linesOf(file: string): string[] {
  const text = corpus.get(file);
  if (text === undefined) throw new Error(`no corpus file ${file}`);
  return text.replace(/\n$/, "").split("\n");
}

const EADDRINUSE_ISSUE = "5f1f0a8e-6a39-4c38-9a53-6c1c7d1e0001";

/**
 * Every corpus text: the title its crash group gets, and which group it joins. Texts with the
 * same group name must share a fingerprint and texts with different names must not.
 */
const EXPECTED: Record<string, { title: string; group: string }> = {
  "01-eaddrinuse-node8-windows-nodemon.txt": {
    title: "Error: listen EADDRINUSE <addr>:<port>",
    group: "EADDRINUSE from Express in server.js",
  },
  "02-eaddrinuse-node9-macos-express.txt": {
    title: "Error: listen EADDRINUSE <addr>:<port>",
    group: "EADDRINUSE from Express in index.js",
  },
  "03-eaddrinuse-node10-windows-stdin.txt": {
    title: "Error: listen EADDRINUSE: address already in use <addr>:<port>",
    group: "EADDRINUSE from code on stdin",
  },
  "04-eaddrinuse-node10-windows-hotnode.txt": {
    title: "Error: listen EADDRINUSE <addr>:<port>",
    group: "EADDRINUSE from Express in index.js",
  },
  "05-eaddrinuse-node10-windows-object-dump.txt": {
    title: "Error: listen EADDRINUSE <addr>:<port>",
    group: "EADDRINUSE in Node's frames only",
  },
  "06-eaddrinuse-node12-macos-express.txt": {
    title: "Error: listen EADDRINUSE: address already in use <addr>:<port>",
    group: "EADDRINUSE from Express in app.js",
  },
  "07-eaddrinuse-node14-windows-express.txt": {
    title: "Error: listen EADDRINUSE: address already in use <addr>:<port>",
    group: "EADDRINUSE from Express in app.js",
  },
  "08-eaddrinuse-node14-linux-express.txt": {
    title: "Error: listen EADDRINUSE: address already in use <addr>:<port>",
    group: "EADDRINUSE from Express in server.js",
  },
  "09-eaddrinuse-node16-windows-esm.txt": {
    title: "Error: listen EADDRINUSE: address already in use <addr>:<port>",
    group: "EADDRINUSE from Express in an ES module",
  },
  "10-eaddrinuse-node20-macos-http2.txt": {
    title: "Error: listen EADDRINUSE: address already in use <addr>:<port>",
    group: "EADDRINUSE in Node's frames only",
  },
  "11-eaddrinuse-node21-macos-hubot.txt": {
    title: "Error: listen EADDRINUSE: address already in use <addr>:<port>",
    group: "EADDRINUSE in Node's frames only",
  },
  "12-eaddrinuse-electron3-linux.txt": { title: "Error: listen EADDRINUSE <addr>:<port>", group: "EADDRINUSE in Node's frames only" },
  "13-eaddrinuse-electron-macos-websocket.txt": {
    title: "Error: listen EADDRINUSE: address already in use <addr>:<port>",
    group: "EADDRINUSE from a WebSocket server in Electron",
  },
  "14-eaddrinuse-electron-macos-path-with-spaces.txt": {
    title: "Error: listen EADDRINUSE <addr>:<port>",
    group: "EADDRINUSE from MapServer in Electron",
  },
  "15-eaddrinuse-electron-forge.txt": {
    title: "Error: listen EADDRINUSE: address already in use <addr>:<port>",
    group: "EADDRINUSE from Electron Forge",
  },
  "16-eaddrinuse-node6-linux.txt": { title: "Error: listen EADDRINUSE <addr>:<port>", group: "EADDRINUSE in Node's frames only" },
  "17-eaddrinuse-node0.8-windows-program-files.txt": { title: "Error: listen EADDRINUSE", group: "EADDRINUSE from notify.js" },
  "18-econnreset-node14-macos.txt": { title: "Error: read ECONNRESET", group: "ECONNRESET" },
  "19-econnreset-node15-linux-tls.txt": { title: "Error: read ECONNRESET", group: "ECONNRESET" },
  "20-econnreset-node18-macos-client-request.txt": { title: "Error: read ECONNRESET", group: "ECONNRESET" },
  "21-econnreset-node22-linux.txt": { title: "Error: read ECONNRESET", group: "ECONNRESET" },
  "22-oom-node8-linux.txt": {
    title: "FATAL ERROR: CALL_AND_RETRY_LAST Allocation failed - JavaScript heap out of memory",
    group: "heap OOM",
  },
  "23-oom-node10-macos.txt": {
    title: "FATAL ERROR: Ineffective mark-compacts near heap limit Allocation failed - JavaScript heap out of memory",
    group: "heap OOM",
  },
  "24-oom-node12-macos.txt": {
    title: "FATAL ERROR: CALL_AND_RETRY_LAST Allocation failed - JavaScript heap out of memory",
    group: "heap OOM",
  },
  "25-oom-node20-macos.txt": {
    title: "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory",
    group: "heap OOM",
  },
  "26-oom-linux-native-stack.txt": {
    title: "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory",
    group: "heap OOM",
  },
  "27-oom-windows-ineffective-mark-compacts.txt": {
    title: "FATAL ERROR: Ineffective mark-compacts near heap limit Allocation failed - JavaScript heap out of memory",
    group: "heap OOM",
  },
  "28-oom-windows-recent-node.txt": {
    title: "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory",
    group: "heap OOM",
  },
  "29-abort-node10-linux-buffer.txt": {
    title: "../src/node_buffer.cc:<n>:char* node::Buffer::Data(v8::Local<v8::Object>): Assertion `obj->IsArrayBufferView()' failed.",
    group: "abort in Buffer::Data",
  },
  "30-abort-node12-linux-libuv.txt": {
    title: "src/unix/core.c:<n>: uv__io_stop: Assertion `loop->watchers[w->fd] == w' failed.",
    group: "abort in uv__io_stop",
  },
  "31-abort-node18-linux-thread-create.txt": {
    title:
      "../src/node_platform.cc:<n>:std::unique_ptr<long unsigned int> node::WorkerThreadsTaskRunner::DelayedTaskScheduler::Start(): Assertion `(<n>) == (uv_thread_create(t.get(), start_thread, this))' faile…",
    group: "abort in DelayedTaskScheduler::Start",
  },
  "32-abort-node12-linux-arm-allocate.txt": {
    title: "../src/env-inl.h:<n>:char* node::Environment::Allocate(size_t): Assertion `(ret) != (nullptr)' failed.",
    group: "abort in Environment::Allocate",
  },
  "33-abort-macos-libuv-stream.txt": {
    title:
      "Assertion failed: (handle->type == UV_TCP || handle->type == UV_TTY || handle->type == UV_NAMED_PIPE), function uv___stream_fd, file ../deps/uv/src/unix/stream.c, line <n>.",
    group: "abort in uv___stream_fd",
  },
  "34-err-require-esm-windows.txt": {
    title: "Error [ERR_REQUIRE_ESM]: require() of ES Module …/random.module.js from …/index.js not supported.",
    group: "ERR_REQUIRE_ESM random.module.js",
  },
  "35-err-module-not-found-node24-windows.txt": {
    title: "Error [ERR_MODULE_NOT_FOUND]: Cannot find module '…/sqlite.js' imported from …/database.js",
    group: "ERR_MODULE_NOT_FOUND sqlite.js",
  },
  "36-err-module-not-found-node20-macos.txt": {
    title: "Error [ERR_MODULE_NOT_FOUND]: Cannot find module '…/index.js' imported from …/_eslint-interactive.js",
    group: "ERR_MODULE_NOT_FOUND eslint-interactive",
  },
  "37-err-module-not-found-node18-macos-node-error.txt": {
    title: "Error [ERR_MODULE_NOT_FOUND]: Cannot find module '…/stdio.js' imported from …/index.js",
    group: "ERR_MODULE_NOT_FOUND stdio.js",
  },
  "38-unhandled-rejection-node16.txt": {
    title:
      "UnhandledPromiseRejection: This error originated either by throwing inside of an async function without a catch block, or by rejecting a promise which was not handled with .catch(). The promise rejec…",
    group: "unhandled rejection",
  },
  "39-typeerror-node18-linux.txt": {
    title: "TypeError: Cannot read properties of undefined (reading 'on')",
    group: "TypeError 'on' in index.js",
  },
  "40-typeerror-node14-windows-program-files-ansi.txt": {
    title: "TypeError: Cannot read property 'node' of undefined",
    group: "TypeError 'node' in npm",
  },
  "41-typeerror-node8-windows.txt": { title: "TypeError: Cannot set property 'id' of undefined", group: "TypeError setting 'id'" },
  "42-typeerror-electron-macos.txt": {
    title: "TypeError: Cannot read property 'on' of undefined",
    group: "TypeError 'on' in Electron's main.js",
  },
  "43-typeerror-electron-linux.txt": {
    title: "TypeError: Cannot read property 'on' of undefined",
    group: "TypeError 'on' in Electron's main.js",
  },
  "44-typeerror-electron-macos-app-with-spaces.txt": {
    title: "TypeError: Cannot read property 'delete' of undefined",
    group: "TypeError 'delete' in Electron",
  },
  "45-error-electron-failed-to-set-path.txt": { title: "Error: Failed to set path", group: "Electron failed to set path" },
  "46-err-internal-assertion-electron-macos.txt": {
    title:
      "Error [ERR_INTERNAL_ASSERTION]: Code: ERR_MODULE_NOT_FOUND; The provided arguments length (<n>) does not match the required ones (<n>).",
    group: "ERR_INTERNAL_ASSERTION",
  },
};

const INDENT = "     ";

/** The crash line of the bridge message IT Support reads for these lines. */
function bridgeCrashLine(lines: string[], crashLine: string): string {
  const msg = bridgeMessage({ nodeName: "Kitchen Laptop", ownerName: "Nana", entries: lines, crashLine, version: "0.3.0", os: "win32" });
  return (msg.split("\n")[1] ?? "").slice(INDENT.length);
}

describe("the crash corpus", () => {
  it("has at least 30 texts, each with its source in SOURCES.md and an expectation here", () => {
    const files = [...corpus.keys()].sort();
    expect(files.length).toBeGreaterThanOrEqual(30);
    expect(Object.keys(EXPECTED).sort()).toEqual(files);
  });

  it.each(Object.entries(EXPECTED))(
    "%s: its group title and the bridge message's crash line are the error line",
    async (file, expected) => {
      const lines = linesOf(file);
      const print = await fingerprint(lines);
      expect(print.title).toBe(expected.title);
      const line = bridgeCrashLine(lines, print.crashLine);
      // The line IT Support reads is the error as the program printed it (address and all) ...
      expect(corpus.get(file)).toContain(line);
      // ... and says what the title says, not "node:events:491" or "throw er;".
      expect(normalizeMessage(line)).toContain(expected.title.replace(/…$/, ""));
      expect(line).not.toMatch(/^(?:node:)?[\w/.]+:\d+$|throw er;|^\^/);
    },
  );

  it("names the error, not the location above it, for Node's unhandled 'error' event", async () => {
    const node10 = linesOf("03-eaddrinuse-node10-windows-stdin.txt");
    expect(node10[0]).toBe("events.js:174");
    expect(bridgeCrashLine(node10, (await fingerprint(node10)).crashLine)).toBe("Error: listen EADDRINUSE: address already in use :::8080");
    const node22 = linesOf("21-econnreset-node22-linux.txt");
    expect(node22[0]).toBe("node:events:496");
    expect(bridgeCrashLine(node22, (await fingerprint(node22)).crashLine)).toBe("Error: read ECONNRESET");
  });

  it("groups the same error from the same code together, and never merges different ones", async () => {
    const prints = await Promise.all(
      Object.keys(EXPECTED).map(async (file) => ({ file, print: (await fingerprint(linesOf(file))).fingerprint })),
    );
    const groupOf = new Map<string, string>();
    for (const { file, print } of prints) {
      const group = EXPECTED[file]!.group;
      const seen = groupOf.get(group);
      if (seen === undefined) groupOf.set(group, print);
      else expect(print, `${file} should join group "${group}"`).toBe(seen);
    }
    const byPrint = new Map<string, string>();
    for (const [group, print] of groupOf) {
      expect(byPrint.get(print), `groups "${byPrint.get(print)}" and "${group}" merged`).toBeUndefined();
      byPrint.set(print, group);
    }
    // Node 6 to 21 and Electron 3, on Windows, macOS and Linux, in one group; so are ECONNRESET on
    // Node 14 to 22 and every heap OOM from Node 8 to 22.
    expect(Object.values(EXPECTED).filter((e) => e.group === "EADDRINUSE in Node's frames only")).toHaveLength(5);
  });

  it("puts this agent's own EADDRINUSE crash in the group of the same crash from the wild", async () => {
    const agent = await fingerprint(EADDRINUSE_CRASH_LOOP);
    expect(agent.fingerprint).toBe((await fingerprint(linesOf("11-eaddrinuse-node21-macos-hubot.txt"))).fingerprint);
  });

  it("groups V8's old and new wording of the same TypeError together", async () => {
    const old = linesOf("42-typeerror-electron-macos.txt");
    const reworded = old.map((line) =>
      line.replace("Cannot read property 'on' of undefined", "Cannot read properties of undefined (reading 'on')"),
    );
    expect(reworded).not.toEqual(old);
    const [before, after] = await Promise.all([fingerprint(old), fingerprint(reworded)]);
    expect(after.title).toBe("TypeError: Cannot read properties of undefined (reading 'on')");
    expect(after.fingerprint).toBe(before.fingerprint);
    const otherProperty = old.map((line) => line.replace("'on'", "'once'"));
    expect((await fingerprint(otherProperty)).fingerprint).not.toBe(before.fingerprint);
  });

  it("keeps different errors on the same code apart", async () => {
    const dump = linesOf("05-eaddrinuse-node10-windows-object-dump.txt");
    const eacces = dump.map((line) => line.replace(/EADDRINUSE/g, "EACCES"));
    expect((await fingerprint(eacces)).fingerprint).not.toBe((await fingerprint(dump)).fingerprint);
    const express = linesOf("06-eaddrinuse-node12-macos-express.txt");
    const otherFile = express.map((line) =>
      line.replace("Generate-HoustonLibrary-Codes-master/app.js", "Generate-HoustonLibrary-Codes-master/web.js"),
    );
    expect((await fingerprint(otherFile)).fingerprint).not.toBe((await fingerprint(express)).fingerprint);
  });

  it("matches the seeded EADDRINUSE known issue on every EADDRINUSE text, and on no other", async () => {
    const issues = await enabledKnownIssues(env.DB);
    expect(issues.map((issue) => issue.id)).toContain(EADDRINUSE_ISSUE);
    const eaddrinuse = Object.keys(EXPECTED).filter((file) => corpus.get(file)!.includes("EADDRINUSE"));
    expect(eaddrinuse).toHaveLength(17);
    for (const file of Object.keys(EXPECTED)) {
      const match = matchKnownIssue(issues, linesOf(file));
      expect(match?.id ?? null, file).toBe(eaddrinuse.includes(file) ? EADDRINUSE_ISSUE : null);
    }
  });

  it("through ingest and the triage queue: the group title and bridge message of Node's unhandled 'error' event", async () => {
    const node = await enrollNode();
    const lines = linesOf("07-eaddrinuse-node14-windows-express.txt");
    const id = await ingestCrash(node, lines, "0.3.0");
    await deliver([id]);
    const resolution = await row<{ group_id: string; known_issue_id: string }>(
      "SELECT group_id, known_issue_id FROM resolutions WHERE telemetry_id = ?",
      id,
    );
    expect(resolution.known_issue_id).toBe(EADDRINUSE_ISSUE);
    const group = await row<{ title: string }>("SELECT title FROM crash_groups WHERE id = ?", resolution.group_id);
    expect(group.title).toBe("Error: listen EADDRINUSE: address already in use <addr>:<port>");
    const bridge = await row<{ msg: string }>("SELECT msg FROM bridge_comms WHERE telemetry_id = ?", id);
    expect(bridge.msg.split("\n")[1]).toBe(`${INDENT}Error: listen EADDRINUSE: address already in use :::5000`);
  });
});
