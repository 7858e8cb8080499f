/**
 * One POST to /api/node/telemetry, and what its answer means for the spool: delivered (202
 * stored, 200 already stored under this event_id), rejected (400/413/415: this body will never
 * be accepted, retrying is pointless) or retry (401 unknown key, 429, 5xx, network trouble).
 * Deciding that here keeps the spool ignorant of HTTP.
 */
import { NODE_KEY_HEADER, SEVERITIES } from "../../protocol/index.ts";
import type { Severity, TelemetryEvent } from "../../protocol/index.ts";
import { describeNetworkError, readApiError } from "./api-error.ts";
import { parseRetryAfter } from "../core/backoff.ts";

export type SendOutcome =
  | { kind: "delivered"; id: string | null; severity: Severity | null; duplicate: boolean }
  | { kind: "rejected"; status: number; reason: string }
  | { kind: "retry"; reason: string; retryAfterMs: number | null; unreachable: boolean };

export type SendTelemetry = (event: TelemetryEvent) => Promise<SendOutcome>;

/** Statuses that say "this request body is wrong", so the same body can never succeed. */
const NEVER_ACCEPTED = new Set([400, 413, 415, 422]);

export type TelemetrySenderOptions = {
  server: string;
  key: string;
  fetchImpl?: typeof fetch;
  timeoutMs?: number;
  now?: () => number;
};

export function telemetrySender(options: TelemetrySenderOptions): SendTelemetry {
  const fetchImpl = options.fetchImpl ?? fetch;
  const now = options.now ?? Date.now;
  const url = `${options.server}/api/node/telemetry`;

  return async (event) => {
    let response: Response;
    try {
      response = await fetchImpl(url, {
        method: "POST",
        headers: { "content-type": "application/json", [NODE_KEY_HEADER]: options.key },
        body: JSON.stringify(event),
        signal: AbortSignal.timeout(options.timeoutMs ?? 15_000),
      });
    } catch (error) {
      const reason = `could not reach ${options.server}: ${describeNetworkError(error)}`;
      return { kind: "retry", reason, retryAfterMs: null, unreachable: true };
    }

    if (response.ok) {
      const body: unknown = await response.json().catch(() => null);
      // The server stored it either way; a body we cannot read must not cause a re-send.
      const id = isRecord(body) && typeof body.id === "string" ? body.id : null;
      const severity = isRecord(body) && isSeverity(body.severity) ? body.severity : null;
      return { kind: "delivered", id, severity, duplicate: response.status === 200 };
    }

    const info = await readApiError(response);
    const reason = `${response.status}: ${info.message}`;
    if (NEVER_ACCEPTED.has(response.status)) return { kind: "rejected", status: response.status, reason };
    const retryAfterMs =
      response.status === 429 || response.status === 503 ? parseRetryAfter(response.headers.get("retry-after"), now()) : null;
    return { kind: "retry", reason, retryAfterMs, unreachable: false };
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

function isSeverity(value: unknown): value is Severity {
  return (SEVERITIES as readonly unknown[]).includes(value);
}
