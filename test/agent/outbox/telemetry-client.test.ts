/**
 * How the client reads the cloud's failure answers. The receiver is a real HTTP server scripted
 * to fail; the success answers (202 stored, 200 duplicate) are pinned against the real edge in
 * crash-reporting.test.ts.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { TelemetryEvent } from "../../../protocol/index.ts";
import { telemetrySender } from "../../../agent/outbox/telemetry-client.ts";
import { apiError, closedPortUrl, startReceiver } from "../../support/helpers.ts";
import type { Reply } from "../../support/helpers.ts";

const event: TelemetryEvent = {
  event_id: "6f1c1f5e-8d0a-4d6e-9b1e-2a3c4d5e6f70",
  type: "crash_report",
  entries: ["UNCAUGHT: Error: boom", "EXIT code=1"],
  node_version: "0.3.0",
  os: "linux",
  arch: "x64",
  uptime_before_crash: null,
  timestamp: "2026-11-28T13:05:00.000Z",
};

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

async function answer(reply: Reply) {
  const receiver = await startReceiver(() => reply);
  closers.push(receiver.close);
  const send = telemetrySender({ server: receiver.url, key: "bnk_secret", now: () => Date.parse("2026-11-28T13:00:00Z") });
  return { outcome: await send(event), receiver };
}

describe("telemetry client", () => {
  it("posts the event as JSON with the node key header to /api/node/telemetry", async () => {
    const { receiver } = await answer(apiError(503, "down", "try later"));
    expect(receiver.requests).toHaveLength(1);
    const [request] = receiver.requests;
    expect(request).toMatchObject({ method: "POST", url: "/api/node/telemetry" });
    expect(request?.headers["content-type"]).toBe("application/json");
    expect(request?.headers["x-node-key"]).toBe("bnk_secret");
    expect(JSON.parse(request?.body ?? "")).toEqual(event);
  });

  it.each([400, 413, 415])("a %i means the body will never be accepted: rejected, with the server's message", async (status) => {
    const { outcome } = await answer(apiError(status, "invalid_body", "entries: too many"));
    expect(outcome).toEqual({ kind: "rejected", status, reason: `${status}: entries: too many` });
  });

  it("a 401 (unknown key) is retried: the node may be re-enrolled later", async () => {
    const { outcome } = await answer(apiError(401, "unauthorized", "unknown node key"));
    expect(outcome).toMatchObject({ kind: "retry", retryAfterMs: null });
  });

  it("a 429 carries the server's Retry-After in seconds", async () => {
    const { outcome } = await answer({ ...apiError(429, "rate_limited", "slow down"), headers: { "retry-after": "42" } });
    expect(outcome).toMatchObject({ kind: "retry", retryAfterMs: 42_000, reason: "429: slow down" });
  });

  it("a 503 with Retry-After (stored but not queued) is retried no earlier than asked", async () => {
    const { outcome } = await answer({ ...apiError(503, "triage_unavailable", "retry later"), headers: { "retry-after": "30" } });
    expect(outcome).toMatchObject({ kind: "retry", retryAfterMs: 30_000 });
  });

  it("a 500 with a non-JSON body is retried and still explained", async () => {
    const { outcome } = await answer({ status: 500, body: "<html>oops</html>" });
    expect(outcome).toMatchObject({ kind: "retry", reason: "500: the server answered 500 Internal Server Error" });
  });

  it("a server that cannot be reached is retried, naming the reason", async () => {
    const send = telemetrySender({ server: await closedPortUrl(), key: "bnk_secret" });
    const outcome = await send(event);
    expect(outcome.kind).toBe("retry");
    expect(outcome.kind === "retry" && outcome.reason).toMatch(/ECONNREFUSED/);
  });
});
