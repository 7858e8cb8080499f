/**
 * Per-node request budget through the Workers rate-limiting binding. Keyed on
 * the node id (after authentication), never the IP: many homes share an IP. The
 * live channel's upgrade, whose key its Durable Object checks, is keyed on the id
 * and the presented key's hash (node-live.ts).
 */
import { createMiddleware } from "hono/factory";
import type { Env, NodeVariables } from "./env.ts";
import { ApiError } from "./http/errors.ts";

/** The `period` of NODE_RATE_LIMIT in wrangler.toml: the longest a refused node must wait. */
export const NODE_RATE_LIMIT_PERIOD_SECONDS = 60;

/** Runs after requireNode (the types can't enforce the order; the check below does). */
export const limitNodeRate = createMiddleware<{ Bindings: Env; Variables: Partial<NodeVariables> }>(async (c, next) => {
  const nodeId = c.get("nodeId");
  if (!nodeId) throw new Error("limitNodeRate must run after requireNode");
  await spendNodeBudget(c.env, nodeId);
  await next();
});

/** One request from the budget under `key`; 429 with Retry-After when it is spent. */
export async function spendNodeBudget(env: Env, key: string): Promise<void> {
  const { success } = await env.NODE_RATE_LIMIT.limit({ key });
  if (!success) {
    throw new ApiError(429, "rate_limited", `Too many requests from this node; retry after ${NODE_RATE_LIMIT_PERIOD_SECONDS} s.`, {
      headers: { "retry-after": String(NODE_RATE_LIMIT_PERIOD_SECONDS) },
    });
  }
}
