/**
 * A real escalation receiver on 127.0.0.1: what IT Support's paging system would run. It checks
 * each delivery's `x-buhdi-signature: t=<unix s>,v1=<hex HMAC-SHA256 over "<t>.<body>">` in
 * constant time, answers 204, and keeps what arrived (verified or not) for whoever asks.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export type Escalation = {
  reason: string;
  summary: string;
  crash_group: { id: string; title: string; report_count: number };
  [key: string]: unknown;
};
/** at: when it arrived (ms since the epoch). */
export type Delivery = { verified: boolean; body: Escalation | null; raw: string; at: number };

export function verifySignature(secret: string, header: string | undefined, body: string): boolean {
  if (!header) return false;
  const parts = Object.fromEntries(header.split(",").map((kv) => kv.split("=", 2) as [string, string]));
  if (!parts.t || !parts.v1) return false;
  const expected = createHmac("sha256", secret).update(`${parts.t}.${body}`).digest();
  const given = Buffer.from(parts.v1, "hex");
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export async function startWebhookReceiver(secret: string): Promise<{ url: string; deliveries: Delivery[]; close(): Promise<void> }> {
  const deliveries: Delivery[] = [];
  const server = createServer((req, res) => {
    let raw = "";
    req.on("data", (chunk: Buffer) => (raw += chunk.toString()));
    req.on("end", () => {
      const verified = verifySignature(secret, req.headers["x-buhdi-signature"] as string | undefined, raw);
      let body: Escalation | null = null;
      try {
        body = JSON.parse(raw) as Escalation;
      } catch {
        // kept as raw: a receiver records what it could not read
      }
      deliveries.push({ verified, body, raw, at: Date.now() });
      res.writeHead(verified ? 204 : 401).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/escalations`,
    deliveries,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
