/**
 * Escalations leave the edge as a signed webhook: a JSON body, and
 * `x-buhdi-signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
 * Signing the timestamp with the body lets the receiver refuse replays
 * (the Stripe convention, which receivers already know how to check).
 */
import { toHex } from "../crypto.ts";

export const SIGNATURE_HEADER = "x-buhdi-signature";

export async function signatureHeader(secret: string, body: string, unixSeconds: number): Promise<string> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${unixSeconds}.${body}`));
  return `t=${unixSeconds},v1=${toHex(mac)}`;
}

export type DeliveryResult = { ok: true } | { ok: false; error: string };

/** One delivery attempt; the caller retries with backoff (through the triage queue). */
export async function deliverWebhook(url: string, secret: string, body: string, now: number): Promise<DeliveryResult> {
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "user-agent": "buhdi-fleet-escalation/1",
        [SIGNATURE_HEADER]: await signatureHeader(secret, body, Math.floor(now / 1000)),
      },
      body,
      signal: AbortSignal.timeout(10_000),
    });
    await res.body?.cancel();
    return res.ok ? { ok: true } : { ok: false, error: `webhook answered ${res.status}` };
  } catch (error) {
    return { ok: false, error: `webhook unreachable: ${String(error)}` };
  }
}
