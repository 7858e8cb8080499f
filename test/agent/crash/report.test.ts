import { describe, expect, it } from "vitest";
import { MAX_ENTRIES, MAX_ENTRY_CHARS, MAX_TELEMETRY_BODY_BYTES, TelemetryEventSchema } from "../../../protocol/index.ts";
import { buildCrashReport } from "../../../agent/crash/report.ts";
import type { CrashReportContext } from "../../../agent/crash/report.ts";
import { makeScrubber } from "../../../agent/crash/scrub.ts";

const context: CrashReportContext = {
  scrub: makeScrubber({ homedir: "C:\\Users\\nana", username: "nana" }),
  version: "0.3.0",
  platform: "win32",
  arch: "x64",
  now: new Date("2026-11-28T13:05:00.000Z"),
  eventId: "6f1c1f5e-8d0a-4d6e-9b1e-2a3c4d5e6f70",
};

function bytes(text: string): Buffer {
  return Buffer.from(text, "utf8");
}

function built(text: string, overrides: Partial<CrashReportContext> = {}) {
  const result = buildCrashReport(bytes(text), { ...context, ...overrides });
  if (!result.ok) throw new Error(`expected a report, got ${result.reason}`);
  return result.event;
}

describe("crash report built from crash.log", () => {
  it("is a valid crash_report event carrying the node's version, platform and the fixed event id", () => {
    const event = built("[2026-11-28T13:00:00.000Z] UNCAUGHT: Error: boom\n    at x (C:\\Users\\nana\\a.js:1:1)\nEXIT code=1\n");
    expect(TelemetryEventSchema.safeParse(event).success).toBe(true);
    expect(event).toMatchObject({
      event_id: context.eventId,
      type: "crash_report",
      node_version: "0.3.0",
      os: "win32",
      arch: "x64",
      uptime_before_crash: null,
      timestamp: "2026-11-28T13:05:00.000Z",
    });
  });

  it("has every line scrubbed of the home directory and the user name", () => {
    const event = built("UNCAUGHT: Error: nana's file is gone\n    at x (C:\\Users\\nana\\a.js:1:1)\r\nEXIT code=1\r\n");
    expect(event.entries).toEqual(["UNCAUGHT: Error: <user>'s file is gone", "    at x (~\\a.js:1:1)", "EXIT code=1"]);
    expect(JSON.stringify(event)).not.toMatch(/nana/i);
  });

  it("keeps only the last 50 non-blank lines", () => {
    const lines = Array.from({ length: 80 }, (_, i) => `line ${i}`);
    const event = built(`${lines.join("\n\n")}\n`);
    expect(event.entries).toHaveLength(MAX_ENTRIES);
    expect(event.entries[0]).toBe("line 30");
    expect(event.entries.at(-1)).toBe("line 79");
  });

  it("cuts a line longer than the protocol allows", () => {
    const event = built(`${"x".repeat(MAX_ENTRY_CHARS + 500)}\nEXIT code=1\n`);
    expect(event.entries[0]).toHaveLength(MAX_ENTRY_CHARS);
    expect(event.entries[0]?.endsWith("…")).toBe(true);
  });

  it("drops the oldest lines until the body fits the size limit", () => {
    const lines = Array.from({ length: 50 }, (_, i) => `${i}:${"y".repeat(MAX_ENTRY_CHARS - 10)}`);
    const event = built(lines.join("\n"));
    expect(Buffer.byteLength(JSON.stringify(event))).toBeLessThanOrEqual(MAX_TELEMETRY_BODY_BYTES);
    expect(event.entries.length).toBeLessThan(50);
    expect(event.entries.at(-1)?.startsWith("49:")).toBe(true);
  });

  it("is not made from a crash.log that holds only blank lines", () => {
    expect(buildCrashReport(bytes("\n  \n\r\n"), context)).toEqual({ ok: false, reason: "no-lines" });
  });

  it("is refused locally, saying why, when the server would refuse it (a bad fixture version)", () => {
    const result = buildCrashReport(bytes("boom\n"), { ...context, version: "dev-build" });
    expect(result.ok).toBe(false);
    expect(result.ok === false && result.reason === "invalid" && result.message).toMatch(/node_version/);
  });
});

describe("the version a crash report blames", () => {
  const context = {
    scrub: (line: string) => line,
    version: "0.3.1",
    platform: "linux",
    arch: "x64",
    now: new Date("2026-11-28T13:00:00Z"),
    eventId: "0b5c7d1e-2f3a-4b5c-8d9e-0f1a2b3c4d5e",
  };
  const report = (text: string) => {
    const built = buildCrashReport(Buffer.from(text), context);
    if (!built.ok) throw new Error(built.reason);
    return built.event;
  };

  it("is the version the supervisor's EXIT line names, when another version sends the report", () => {
    const text =
      "[2026-11-28T12:59:58.000Z] UNCAUGHT: Error: listen EADDRINUSE\n[2026-11-28T12:59:58.100Z] EXIT code=1 signal=null after 0.4 s on 0.3.0\n";
    expect(report(text).node_version).toBe("0.3.0");
  });

  it("is the newest crash's version when the lines span several", () => {
    const text = "[t] EXIT code=1 signal=null after 0.4 s on 0.3.0\n[t] EXIT code=null signal=SIGABRT after 9.0 s on 0.3.2\n";
    expect(report(text).node_version).toBe("0.3.2");
  });

  it("is the sender's own version for records without one (older agents, unsupervised runs)", () => {
    expect(report("[t] EXIT code=1 signal=null after 0.4 s\n").node_version).toBe("0.3.1");
    expect(report("[t] UNCAUGHT: Error: boom\nEXIT code=1\n").node_version).toBe("0.3.1");
  });
});
