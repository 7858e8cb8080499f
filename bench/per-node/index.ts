/**
 * The edge's Worker as deployed, with one difference for the `per-node` benchmark part: every
 * NodeSession's storage writes are counted as Cloudflare bills them (a row per key put or
 * deleted, a row per setAlarm or deleteAlarm), and GET /__bench/storage-writes returns the totals
 * so far. Local workerd runs the Worker and all its objects in one isolate, so one counter sees
 * them all. Never deployed: the benchmark builds it as the entry of a direct local edge.
 */
import edge, { NodeSession as DeployedNodeSession } from "../../worker/index.ts";
import type { Env } from "../../worker/env.ts";
import type { QueueMessage } from "../../worker/queue.ts";

const written = { rows: 0, puts: 0, deletes: 0, alarms: 0 };

/** Rows each write method writes, by its arguments. */
const ROWS: Record<string, (args: unknown[]) => number> = {
  put: (args) => (typeof args[0] === "string" ? 1 : Object.keys(args[0] as object).length),
  delete: (args) => (Array.isArray(args[0]) ? args[0].length : 1),
  setAlarm: () => 1,
  deleteAlarm: () => 1,
};
const KIND = { put: "puts", delete: "deletes", setAlarm: "alarms", deleteAlarm: "alarms" } as const;

let counting = false;

/**
 * Wraps the write methods on the storage prototype, once: the runtime refuses a stand-in for the
 * object's state (its constructor checks the type), and the prototype is shared by every object.
 */
function countWrites(storage: DurableObjectStorage): void {
  if (counting) return;
  counting = true;
  const prototype = Object.getPrototypeOf(storage) as Record<string, unknown>;
  for (const [method, rows] of Object.entries(ROWS)) {
    const original = prototype[method] as (...args: unknown[]) => unknown;
    prototype[method] = function (this: unknown, ...args: unknown[]) {
      const n = rows(args);
      written.rows += n;
      written[KIND[method as keyof typeof KIND]] += n;
      return original.apply(this, args);
    };
  }
}

export class NodeSession extends DeployedNodeSession {
  constructor(ctx: DurableObjectState, env: Env) {
    countWrites(ctx.storage);
    super(ctx, env);
  }
}

export default {
  ...edge,
  fetch(request, env, ctx) {
    if (new URL(request.url).pathname === "/__bench/storage-writes") return Response.json(written);
    return edge.fetch(request, env, ctx);
  },
} satisfies ExportedHandler<Env, QueueMessage>;
