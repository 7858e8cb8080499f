/**
 * Crash capture on the real agent process: a port held by another process makes the node
 * program's listen fail (EADDRINUSE), which must kill the process with code 1 and
 * leave a readable record in crash.log. These run the node program alone (`buhdi-node node`);
 * under the supervisor (`run`) it is restarted instead, see supervisor.test.ts.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { NODE_BIN, REPO_ROOT, closedPortUrl, collect, fakeEnrolledHome, holdPort, runCli, tempHome } from "../../support/helpers.ts";
import { spawn } from "node:child_process";
import { pathToFileURL } from "node:url";

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

const RECORD_START = /^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\] /;

describe("crash capture", () => {
  it("a port already in use kills the node program with code 1 and records UNCAUGHT EADDRINUSE and the exit line", async () => {
    const held = await holdPort();
    closers.push(held.close);
    const home = await fakeEnrolledHome(await closedPortUrl());

    const result = await runCli(["node"], { BUHDI_NODE_HOME: home, BUHDI_NODE_PORT: String(held.port) });

    expect(result.code).toBe(1);
    const crashLog = await readFile(path.join(home, "crash.log"), "utf8");
    const lines = crashLog.trimEnd().split("\n");
    expect(lines[0]).toMatch(RECORD_START);
    expect(lines[0]).toContain(`UNCAUGHT: Error: listen EADDRINUSE: address already in use 127.0.0.1:${held.port}`);
    expect(lines[1]).toMatch(/^ {4}at /);
    expect(lines.at(-1)).toBe("EXIT code=1");
    expect(result.stderr).toContain("EADDRINUSE");
  });

  it("each crash appends its own record: nothing earlier is overwritten", async () => {
    const held = await holdPort();
    closers.push(held.close);
    const home = await fakeEnrolledHome(await closedPortUrl());
    const env = { BUHDI_NODE_HOME: home, BUHDI_NODE_PORT: String(held.port) };

    await runCli(["node"], env);
    await runCli(["node"], env);

    const crashLog = await readFile(path.join(home, "crash.log"), "utf8");
    expect(crashLog.match(/UNCAUGHT: Error: listen EADDRINUSE/g)).toHaveLength(2);
    expect(crashLog.match(/^EXIT code=1$/gm)).toHaveLength(2);
  });

  it("an unhandled rejection is recorded as UNHANDLED_REJECTION and exits 1", async () => {
    const home = await tempHome();
    const crashLog = path.join(home, "crash.log");
    const capture = pathToFileURL(path.join(REPO_ROOT, "agent", "crash", "capture.ts")).href;
    const script = `import { installCrashCapture } from ${JSON.stringify(capture)};
      installCrashCapture(${JSON.stringify(crashLog)});
      Promise.reject(new Error("database went away"));
      setTimeout(() => {}, 5000);`;
    const child = spawn(NODE_BIN, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "pipe"] });

    const result = await collect(child);

    expect(result.code).toBe(1);
    const text = await readFile(crashLog, "utf8");
    expect(text).toMatch(RECORD_START);
    expect(text).toContain("UNHANDLED_REJECTION: Error: database went away\n    at ");
    expect(text.endsWith("EXIT code=1\n")).toBe(true);
  });

  it("`run` on a computer that is not enrolled says what to do and exits 2 without a crash record", async () => {
    const home = await tempHome();
    const result = await runCli(["run"], { BUHDI_NODE_HOME: home });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/not enrolled.*buhdi-node enroll <code> --server <url>/s);
    await expect(readFile(path.join(home, "crash.log"), "utf8")).rejects.toThrow(/ENOENT/);
  });
});
