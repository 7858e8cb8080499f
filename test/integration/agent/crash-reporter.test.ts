/**
 * Crash reporting when the cloud does not accept the report: nothing may be lost, nothing may
 * pile up, and the server's instructions (Retry-After, "never") are followed. The cloud here is a
 * real HTTP server scripted to fail; delivery that succeeds is in crash-reporting.test.ts.
 */
import { appendFile, readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { crashReporter } from "../../../agent/crash/reporter.ts";
import type { CrashReporterOptions } from "../../../agent/crash/reporter.ts";
import { homePaths } from "../../../agent/core/paths.ts";
import type { HomePaths } from "../../../agent/core/paths.ts";
import { makeScrubber } from "../../../agent/crash/scrub.ts";
import { addEntry, listEntries } from "../../../agent/outbox/spool.ts";
import { telemetrySender } from "../../../agent/outbox/telemetry-client.ts";
import { apiError, closedPortUrl, fakeEnrolledHome, runCli, startReceiver, tempHome } from "../../support/helpers.ts";
import type { Reply } from "../../support/helpers.ts";

const RECORD =
  "[2026-11-28T13:00:00.000Z] UNCAUGHT: Error: listen EADDRINUSE: address already in use 127.0.0.1:9847\n" +
  "    at Server.setupListenHandle [as _listen2] (node:net:1908:16)\nEXIT code=1\n";
const NOW = Date.parse("2026-11-28T13:05:00.000Z");

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

async function setup(reply: (index: number) => Reply, crashLog = RECORD) {
  const receiver = await startReceiver((_request, index) => reply(index));
  closers.push(receiver.close);
  const paths = homePaths(await tempHome());
  await writeFile(paths.crashLog, crashLog);
  const messages: string[] = [];
  let now = NOW;
  const options: CrashReporterOptions = {
    paths,
    send: telemetrySender({ server: receiver.url, key: "bnk_key", now: () => now }),
    scrub: makeScrubber({ homedir: "/home/nana", username: "nana" }),
    version: "0.3.0",
    platform: "linux",
    arch: "x64",
    now: () => now,
    random: () => 0.5,
    log: (m) => messages.push(m),
  };
  return { receiver, paths, messages, reporter: crashReporter(options), advance: (ms: number) => (now += ms) };
}

const spoolOf = (paths: HomePaths) => listEntries({ dir: paths.spool, rejectedDir: paths.rejected, log: () => undefined });

describe("a crash report the cloud did not take", () => {
  it("a failed upload keeps crash.log and the spool entry", async () => {
    const { paths, reporter, receiver } = await setup(() => apiError(503, "unavailable", "down for maintenance"));
    const summary = await reporter.report();
    expect(receiver.requests).toHaveLength(1);
    expect(summary.delivered).toBe(0);
    expect(await readFile(paths.crashLog, "utf8")).toBe(RECORD);
    const [entry, ...others] = await spoolOf(paths);
    expect(others).toEqual([]);
    expect(entry).toMatchObject({
      attempts: 1,
      crash_log: { covers_bytes: Buffer.byteLength(RECORD) },
      last_error: "503: down for maintenance",
    });
    await expect(readFile(paths.crashLogPrev)).rejects.toThrow(/ENOENT/);
  });

  it("is the only pending crash report even after more crashes and restarts, and is retried with the same event_id", async () => {
    const { paths, reporter, receiver, advance } = await setup(() => apiError(500, "boom", "internal"));
    await reporter.report();
    await appendFile(paths.crashLog, RECORD.replace("13:00:00", "13:10:00"));
    advance(60 * 60 * 1000);
    await reporter.report();
    const entries = await spoolOf(paths);
    expect(entries).toHaveLength(1);
    expect(entries[0]?.crash_log?.covers_bytes).toBe(Buffer.byteLength(RECORD));
    const sentIds = receiver.requests.map((r) => (JSON.parse(r.body) as { event_id: string }).event_id);
    expect(sentIds).toHaveLength(2);
    expect(new Set(sentIds).size).toBe(1);
    expect((await readFile(paths.crashLog, "utf8")).match(/EXIT code=1/g)).toHaveLength(2);
  });

  it("is not sent again before the server's Retry-After, even by a manual report", async () => {
    const { reporter, receiver, advance, paths } = await setup(() => ({
      ...apiError(429, "rate_limited", "slow down"),
      headers: { "retry-after": "120" },
    }));
    await reporter.report();
    advance(119_000);
    await reporter.report({ ignoreBackoff: true });
    expect(receiver.requests).toHaveLength(1);
    advance(1_000);
    await reporter.report({ ignoreBackoff: true });
    expect(receiver.requests).toHaveLength(2);
    expect(await spoolOf(paths)).toHaveLength(1);
  });

  it("waits for its backoff when the timer (not a person) retries", async () => {
    const { reporter, receiver, advance } = await setup(() => apiError(502, "bad_gateway", "proxy"));
    await reporter.report();
    advance(2_499); // random 0.5 of the first 5 s window = 2.5 s
    await reporter.report();
    expect(receiver.requests).toHaveLength(1);
    advance(1);
    await reporter.report();
    expect(receiver.requests).toHaveLength(2);
  });

  it("refused for good (400) leaves the retry loop: kept in spool/rejected, crash.log rotated so it is not rebuilt at every start", async () => {
    const { paths, reporter, receiver, messages } = await setup(() => apiError(400, "invalid_body", "entries: bad"));
    const summary = await reporter.report();
    expect(summary).toMatchObject({ delivered: 0, rejected: 1, pending: [] });
    expect(await readdir(paths.rejected)).toHaveLength(1);
    expect(await readFile(paths.crashLogPrev, "utf8")).toBe(RECORD);
    expect(await readFile(paths.crashLog, "utf8")).toBe("");
    expect(messages.join("\n")).toMatch(/refused .*entries: bad/);
    await reporter.report();
    expect(receiver.requests).toHaveLength(1);
  });
});

describe("a node starting while the cloud is unreachable", () => {
  it("snapshots a new crash into the spool but tries the network only once in that pass", async () => {
    const paths = homePaths(await tempHome());
    const server = await closedPortUrl();
    let attempts = 0;
    const send = telemetrySender({ server, key: "k" });
    const options: CrashReporterOptions = {
      paths,
      send: (event) => {
        attempts += 1;
        return send(event);
      },
      scrub: (t) => t,
      version: "0.3.0",
      platform: "linux",
      arch: "x64",
      now: () => NOW,
      random: () => 0,
      log: () => undefined,
    };
    const reporter = crashReporter(options);
    // A pending non-crash event first, then a crash in crash.log.
    await addEntry(
      { dir: paths.spool, rejectedDir: paths.rejected, log: () => undefined },
      {
        event_id: "00000000-0000-4000-8000-00000000000c",
        type: "connection_degraded",
        entries: [],
        node_version: "0.3.0",
        os: "linux",
        arch: "x64",
        uptime_before_crash: null,
        timestamp: new Date(NOW).toISOString(),
      },
      { now: NOW - 1 },
    );
    await writeFile(paths.crashLog, RECORD);

    const summary = await reporter.report();

    expect(attempts).toBe(1);
    expect(summary.pending.map((e) => e.event.type)).toEqual(["connection_degraded", "crash_report"]);
    expect(await readFile(paths.crashLog, "utf8")).toBe(RECORD);
  });
});

describe("a crash report that must not be sent", () => {
  it("one the server would refuse (bad fixture version) is not built; crash.log stays as it is", async () => {
    const held = await setup(() => apiError(500, "x", "must not be called"));
    const reporter = crashReporter({
      paths: held.paths,
      send: telemetrySender({ server: held.receiver.url, key: "k" }),
      scrub: (t) => t,
      version: "not-a-version",
      platform: "linux",
      arch: "x64",
      now: () => NOW,
      random: () => 0.5,
      log: (m) => held.messages.push(m),
    });
    await reporter.report();
    expect(held.receiver.requests).toEqual([]);
    expect(await readFile(held.paths.crashLog, "utf8")).toBe(RECORD);
    expect(held.messages.join("\n")).toMatch(/node_version/);
  });

  it("an empty crash.log means nothing is sent", async () => {
    const { paths, reporter, receiver } = await setup(() => apiError(500, "x", "must not be called"), "");
    await reporter.report();
    expect(receiver.requests).toEqual([]);
    expect(await spoolOf(paths)).toEqual([]);
  });
});

describe("`buhdi-node report` when the cloud is unreachable", () => {
  it("exits 1, says the report is still waiting, and keeps crash.log and the spool entry", async () => {
    const home = await fakeEnrolledHome(await closedPortUrl());
    await writeFile(path.join(home, "crash.log"), RECORD);
    const result = await runCli(["report"], { BUHDI_NODE_HOME: home });
    expect(result.code).toBe(1);
    expect(result.stdout).toContain("still waiting 1");
    expect(result.stderr).toMatch(/could not send crash_report .*ECONNREFUSED/);
    expect(await readFile(path.join(home, "crash.log"), "utf8")).toBe(RECORD);
    expect((await readdir(path.join(home, "spool"))).filter((n) => n.endsWith(".json"))).toHaveLength(1);
  });
});

describe("a pass the crash-loop plan restricts", () => {
  it("snapshot: false flushes nothing new: crash.log stays, nothing is sent", async () => {
    const { paths, reporter, receiver } = await setup(() => ({ status: 202, body: { id: "x", severity: "critical" } }));
    const summary = await reporter.report({ snapshot: false });
    expect(receiver.requests).toEqual([]);
    expect(summary.pending).toEqual([]);
    expect(await readFile(paths.crashLog, "utf8")).toBe(RECORD);
  });

  it("details go into the report the pass makes, and it is rotated after the 2xx like any other", async () => {
    const { paths, reporter, receiver } = await setup(() => ({ status: 202, body: { id: "x", severity: "critical" } }));
    const details = { crash_count: 4, first_crash_at: "2026-11-28T13:00:00.000Z", last_crash_at: "2026-11-28T13:00:09.000Z" };
    await reporter.report({ details });
    const sent = JSON.parse(receiver.requests[0]!.body) as { details?: unknown; entries: string[] };
    expect(sent.details).toEqual(details);
    expect(sent.entries.at(-1)).toBe("EXIT code=1");
    expect(await readFile(paths.crashLog, "utf8")).toBe("");
    expect(await readFile(paths.crashLogPrev, "utf8")).toBe(RECORD);
  });
});
