/**
 * The HTTP fallback heartbeat: one POST to /api/node/heartbeat while the socket cannot connect
 * (the cloud shows the node as degraded, not offline). Its answer is sorted the way the live link
 * needs it: sent, refused by the server (with Retry-After for 429), or the server unreachable.
 */
import { NODE_KEY_HEADER } from "../../protocol/index.ts";
import type { Heartbeat } from "../../protocol/index.ts";
import { describeNetworkError, readApiError } from "../outbox/api-error.ts";
import { parseRetryAfter } from "../core/backoff.ts";

export type HeartbeatOutcome =
  | { kind: "sent" }
  | { kind: "refused"; status: number; reason: string; retryAfterMs: number | null }
  | { kind: "unreachable"; reason: string };

export type PostHeartbeat = (beat: Heartbeat) => Promise<HeartbeatOutcome>;

export function heartbeatPoster(options: { server: string; key: string; timeoutMs?: number; now?: () => number }): PostHeartbeat {
  const url = `${options.server}/api/node/heartbeat`;
  const now = options.now ?? Date.now;
  return async (beat) => {
    let response: Response;
    try {
      response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", [NODE_KEY_HEADER]: options.key },
        body: JSON.stringify(beat),
        signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
      });
    } catch (error) {
      return { kind: "unreachable", reason: describeNetworkError(error) };
    }
    if (response.ok) {
      await response.body?.cancel().catch(() => undefined);
      return { kind: "sent" };
    }
    const info = await readApiError(response);
    return {
      kind: "refused",
      status: response.status,
      reason: `${response.status}: ${info.message}`,
      retryAfterMs: parseRetryAfter(response.headers.get("retry-after"), now()),
    };
  };
}
