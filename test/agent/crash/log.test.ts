import { readFile, writeFile, appendFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { coverageOf, formatCrashRecord, readCrashLog, rotateCrashLog } from "../../../agent/crash/crash-log.ts";
import { tempHome } from "../../support/helpers.ts";

const AT = new Date("2026-11-28T13:00:00.000Z");

describe("crash record format", () => {
  it("an uncaught error is written as timestamp, kind, its stack, and the exit line", () => {
    const error = new Error("listen EADDRINUSE: address already in use 127.0.0.1:9847");
    error.stack =
      "Error: listen EADDRINUSE: address already in use 127.0.0.1:9847\n    at Server.setupListenHandle [as _listen2] (node:net:1908:16)";
    expect(formatCrashRecord("UNCAUGHT", error, AT, 1)).toBe(
      "[2026-11-28T13:00:00.000Z] UNCAUGHT: Error: listen EADDRINUSE: address already in use 127.0.0.1:9847\n" +
        "    at Server.setupListenHandle [as _listen2] (node:net:1908:16)\n" +
        "EXIT code=1\n",
    );
  });

  it("a rejection with a non-Error reason is still readable", () => {
    expect(formatCrashRecord("UNHANDLED_REJECTION", "boom", AT, 1)).toBe(
      "[2026-11-28T13:00:00.000Z] UNHANDLED_REJECTION: boom\nEXIT code=1\n",
    );
    expect(formatCrashRecord("UNHANDLED_REJECTION", { reason: "db down" }, AT, 1)).toContain("{ reason: 'db down' }");
  });

  it("an error without a stack falls back to its string form", () => {
    const error = new TypeError("bad");
    error.stack = "";
    expect(formatCrashRecord("UNCAUGHT", error, AT, 1)).toContain("UNCAUGHT: TypeError: bad\n");
  });
});

async function homeWith(crashLog: string, prev?: string): Promise<{ log: string; prev: string }> {
  const home = await tempHome();
  const files = { log: path.join(home, "crash.log"), prev: path.join(home, "crash.log.prev") };
  await writeFile(files.log, crashLog);
  if (prev !== undefined) await writeFile(files.prev, prev);
  return files;
}

describe("crash.log rotation", () => {
  it("moves exactly the reported bytes to crash.log.prev, replacing the old one, and empties crash.log", async () => {
    const files = await homeWith("record one\nEXIT code=1\n", "an older report\n");
    const coverage = coverageOf(await readCrashLog(files.log));
    expect(await rotateCrashLog(files.log, files.prev, coverage)).toBe("rotated");
    expect(await readFile(files.prev, "utf8")).toBe("record one\nEXIT code=1\n");
    expect(await readFile(files.log, "utf8")).toBe("");
  });

  it("keeps a crash appended after the report was made", async () => {
    const files = await homeWith("record one\n");
    const coverage = coverageOf(await readCrashLog(files.log));
    await appendFile(files.log, "record two\n");
    expect(await rotateCrashLog(files.log, files.prev, coverage)).toBe("rotated");
    expect(await readFile(files.prev, "utf8")).toBe("record one\n");
    expect(await readFile(files.log, "utf8")).toBe("record two\n");
  });

  it("does nothing when crash.log no longer starts with the reported bytes (rotated before a kill)", async () => {
    const files = await homeWith("record one\n");
    const coverage = coverageOf(await readCrashLog(files.log));
    await rotateCrashLog(files.log, files.prev, coverage);
    await appendFile(files.log, "record two, longer than one\n");
    expect(await rotateCrashLog(files.log, files.prev, coverage)).toBe("already-rotated");
    expect(await readFile(files.log, "utf8")).toBe("record two, longer than one\n");
    expect(await readFile(files.prev, "utf8")).toBe("record one\n");
  });

  it("does nothing when crash.log is shorter than what was reported", async () => {
    const files = await homeWith("record one\n");
    const coverage = coverageOf(await readCrashLog(files.log));
    await writeFile(files.log, "rec");
    expect(await rotateCrashLog(files.log, files.prev, coverage)).toBe("already-rotated");
    expect(await readFile(files.log, "utf8")).toBe("rec");
  });

  it("a rotation repeated after a kill between writing .prev and crash.log gives the same result", async () => {
    const files = await homeWith("record one\n");
    const coverage = coverageOf(await readCrashLog(files.log));
    await writeFile(files.prev, "record one\n"); // the first rotation got this far
    expect(await rotateCrashLog(files.log, files.prev, coverage)).toBe("rotated");
    expect(await readFile(files.prev, "utf8")).toBe("record one\n");
    expect(await readFile(files.log, "utf8")).toBe("");
  });

  it("reads a missing crash.log as empty", async () => {
    const home = await tempHome();
    expect((await readCrashLog(path.join(home, "crash.log"))).length).toBe(0);
  });
});
