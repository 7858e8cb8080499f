import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { MAX_TELEMETRY_BODY_BYTES } from "../../protocol/telemetry.ts";
import { crashReport, enrollNode, postTelemetry, telemetryRowCount } from "./helpers.ts";

type ErrorBody = { error: { code: string; message: string; issues?: { path: string; message: string }[] } };

describe("POST /api/node/telemetry", () => {
  it("a crash report is stored once and answered 202 with severity critical", async () => {
    const node = await enrollNode();
    const report = crashReport();
    const res = await postTelemetry(node.node_key, report);
    expect(res.status).toBe(202);
    const body = await res.json<{ id: string; severity: string }>();
    expect(body.severity).toBe("critical");
    const row = await env.DB.prepare("SELECT * FROM node_telemetry WHERE id = ?").bind(body.id).first<Record<string, unknown>>();
    expect(row).toMatchObject({
      node_id: node.node_id,
      owner_id: node.owner_id,
      event_id: report.event_id,
      type: "crash_report",
      node_version: "0.3.0",
      severity: "critical",
      resolved: 0,
    });
    expect(JSON.parse(row!.payload as string).entries).toEqual(report.entries);
  });

  it.each([
    ["crash_report", "critical"],
    ["connection_degraded", "warning"],
    ["error", "warning"],
    ["health", "info"],
  ] as const)("a %s event is classified %s whatever the node claims", async (type, severity) => {
    const node = await enrollNode();
    const res = await postTelemetry(node.node_key, { ...crashReport({ type }), severity: "info" });
    expect(res.status).toBe(202);
    expect((await res.json<{ severity: string }>()).severity).toBe(severity);
  });

  it("the same event_id again is answered 200 with the first id and stored once", async () => {
    const node = await enrollNode();
    const report = crashReport();
    const first = await (await postTelemetry(node.node_key, report)).json<{ id: string }>();
    const before = await telemetryRowCount();
    const again = await postTelemetry(node.node_key, report);
    expect(again.status).toBe(200);
    expect((await again.json<{ id: string }>()).id).toBe(first.id);
    expect(await telemetryRowCount()).toBe(before);
  });

  it("two nodes may use the same event_id without colliding", async () => {
    const [a, b] = [await enrollNode(), await enrollNode()];
    const report = crashReport();
    expect((await postTelemetry(a.node_key, report)).status).toBe(202);
    expect((await postTelemetry(b.node_key, report)).status).toBe(202);
  });

  it("malformed JSON is refused with 400 invalid_json and nothing is stored", async () => {
    const node = await enrollNode();
    const before = await telemetryRowCount();
    const res = await postTelemetry(node.node_key, '{"type": "crash_report",');
    expect(res.status).toBe(400);
    expect((await res.json<ErrorBody>()).error.code).toBe("invalid_json");
    expect(await telemetryRowCount()).toBe(before);
  });

  it("a body of the wrong shape is refused with 400 and the path of every problem", async () => {
    const node = await enrollNode();
    const res = await postTelemetry(node.node_key, {
      ...crashReport(),
      event_id: "not-a-uuid",
      type: "meltdown",
      entries: Array.from({ length: 51 }, (_, i) => `line ${i}`),
    });
    expect(res.status).toBe(400);
    const body = await res.json<ErrorBody>();
    expect(body.error.code).toBe("invalid_body");
    expect(body.error.issues!.map((i) => i.path).sort()).toEqual(["entries", "event_id", "type"]);
    expect(body.error.message).toMatch(/not valid/);
  });

  it("a crash report with no lines is refused, naming entries", async () => {
    const node = await enrollNode();
    const res = await postTelemetry(node.node_key, crashReport({ entries: [] }));
    expect(res.status).toBe(400);
    expect((await res.json<ErrorBody>()).error.issues).toEqual([{ path: "entries", message: expect.stringContaining("at least one") }]);
  });

  it("a JSON array or scalar body is refused with 400", async () => {
    const node = await enrollNode();
    for (const body of ["[]", "42", "null", '"crash"']) {
      const res = await postTelemetry(node.node_key, body);
      expect(res.status, body).toBe(400);
      expect((await res.json<ErrorBody>()).error.issues?.[0]?.path).toBe("(body)");
    }
  });

  it("a missing node key is refused with 401 before the body is read", async () => {
    const res = await postTelemetry(null, crashReport());
    expect(res.status).toBe(401);
    expect((await res.json<ErrorBody>()).error.code).toBe("node_key_missing");
  });

  it("a wrong, forged or malformed node key is refused with the same 401, even right after the real key was used", async () => {
    const node = await enrollNode();
    expect((await postTelemetry(node.node_key, crashReport())).status).toBe(202);
    const [prefix, id] = node.node_key.split(".");
    const forged = `${prefix}.${id}.${"A".repeat(43)}`;
    const unknownNode = `${prefix}.${crypto.randomUUID()}.${node.node_key.split(".")[2]}`;
    for (const key of [forged, unknownNode, "garbage", `${node.node_key}x`]) {
      const res = await postTelemetry(key, crashReport());
      expect(res.status, key).toBe(401);
      expect((await res.json<ErrorBody>()).error.code).toBe("node_key_invalid");
    }
  });

  it("a body over 64 KiB is refused with 413 and nothing is stored", async () => {
    const node = await enrollNode();
    const before = await telemetryRowCount();
    const huge = JSON.stringify(crashReport({ entries: Array.from({ length: 50 }, () => "x".repeat(1400)) }));
    expect(huge.length).toBeGreaterThan(MAX_TELEMETRY_BODY_BYTES);
    const res = await postTelemetry(node.node_key, huge);
    expect(res.status).toBe(413);
    expect((await res.json<ErrorBody>()).error.code).toBe("body_too_large");
    expect(await telemetryRowCount()).toBe(before);
  });

  it("a streamed body without content-length is still cut off at 64 KiB with 413", async () => {
    const node = await enrollNode();
    const chunk = new TextEncoder().encode("x".repeat(16 * 1024));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 8) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const res = await postTelemetry(node.node_key, stream);
    expect(res.status).toBe(413);
  });

  it.each([["text/plain"], ["application/x-www-form-urlencoded"], ["multipart/form-data; boundary=x"]])(
    "a %s body is refused with 415",
    async (contentType) => {
      const node = await enrollNode();
      const res = await postTelemetry(node.node_key, crashReport(), { "content-type": contentType });
      expect(res.status).toBe(415);
      expect((await res.json<ErrorBody>()).error.message).toContain("application/json");
    },
  );

  it("application/json with a charset parameter is accepted", async () => {
    const node = await enrollNode();
    const res = await postTelemetry(node.node_key, crashReport(), { "content-type": "application/json; charset=utf-8" });
    expect(res.status).toBe(202);
  });

  it("a node over its rate limit gets 429 with Retry-After", async () => {
    const node = await enrollNode();
    let refused: Response | undefined;
    // The limit's minute windows are aligned to the clock, so a run that crosses a minute boundary
    // starts counting again: 2 × 60 + 1 requests fill at least one window even then.
    for (let i = 0; i < 121 && !refused; i++) {
      const res = await postTelemetry(node.node_key, crashReport({ type: "health", entries: [] }));
      if (res.status === 429) refused = res;
      else expect(res.status).toBe(202);
    }
    expect(refused, "the limit of 60 per minute was never reached").toBeDefined();
    expect(Number(refused!.headers.get("retry-after"))).toBeGreaterThan(0);
    // Another node is not affected.
    const other = await enrollNode();
    expect((await postTelemetry(other.node_key, crashReport())).status).toBe(202);
  });
});
