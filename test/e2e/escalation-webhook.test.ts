/**
 * The escalation webhook end to end: the real Worker under wrangler dev, its
 * real triage queue, and a real HTTP receiver here that checks the signature
 * the way a receiver must (HMAC-SHA256 over "<t>.<body>", constant-time).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalEdge, startLocalEdge } from "../../scripts/local-edge.ts";
import { verifySignature as verify } from "../../scripts/demo/webhook-receiver.ts";
import { TYPE_ERROR_CRASH } from "../fixtures/crashes.ts";
import { adminCall, enrollThroughApi, reportCrash } from "../support/edge-api.ts";
import { eventually, sleep } from "../support/live-node.ts";

const SECRET = "webhook-secret-for-the-e2e-test";

type Received = { headers: Record<string, string | string[] | undefined>; body: string };

describe("escalation webhook", () => {
  let edge: LocalEdge;
  let receiver: Server;
  const received: Received[] = [];

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let body = "";
      req.on("data", (chunk: Buffer) => (body += chunk.toString()));
      req.on("end", () => {
        received.push({ headers: req.headers, body });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    const { port } = receiver.address() as AddressInfo;
    edge = await startLocalEdge({
      vars: { ESCALATION_WEBHOOK_URL: `http://127.0.0.1:${port}/escalations`, ESCALATION_WEBHOOK_SECRET: SECRET },
    });
  });

  afterAll(async () => {
    await edge?.stop();
    receiver?.close();
  });

  const admin = (path: string, body?: unknown) => adminCall(edge, path, body);

  it("an unknown crash reported several times reaches the receiver once, signed, with the count", async () => {
    const enrolled = await enrollThroughApi(edge, { name: "Kitchen Laptop", os: "win32" });
    for (let i = 0; i < 3; i++) await reportCrash(edge, enrolled.node_key, TYPE_ERROR_CRASH, "win32");

    // The local queue delivers batches every few seconds.
    const groups = await eventually(
      async () => ((await admin("/api/support/crash-groups")).items as { report_count: number }[] | undefined) ?? [],
      (items) => received.length >= 1 && items[0]?.report_count === 3,
      45_000,
      `the crash group to count 3 reports and the webhook to be called (webhook calls so far: ${received.length})`,
      500,
    );
    expect(groups[0]?.report_count).toBe(3);
    // An absence is only checkable over time: a second (flooding) webhook would come with the next
    // queue batch. Checked too early this could only pass, never fail falsely.
    await sleep(6_000);
    expect(received).toHaveLength(1);

    const [hook] = received;
    const signature = hook!.headers["x-buhdi-signature"] as string;
    expect(verify(SECRET, signature, hook!.body)).toBe(true);
    expect(verify("another-secret", signature, hook!.body)).toBe(false);
    const body = JSON.parse(hook!.body) as Record<string, unknown>;
    expect(body).toMatchObject({
      type: "escalation",
      reason: "unknown_crash",
      node: expect.objectContaining({ id: enrolled.node_id, name: "Kitchen Laptop", owner: "Nana" }),
      crash_group: expect.objectContaining({ title: expect.stringContaining("TypeError") }),
    });
    const tickets = (await admin("/api/support/tickets")).items as { report_count: number }[];
    expect(tickets).toHaveLength(1);
    expect(tickets[0]!.report_count).toBe(3);
  });
});
