/**
 * What one queue batch of crash reports costs in D1 queries, counted at the binding (each
 * statement of a D1 batch is a query). Cloudflare allows 1,000 per invocation on Workers Paid,
 * so the consumer's max_batch_size in wrangler.toml must keep the worst batch well inside that.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { EADDRINUSE_CRASH_LOOP, TYPE_ERROR_CRASH } from "../fixtures/crashes.ts";
import { createOwner, enrollNode } from "./helpers.ts";
import { deliver, ingestCrash } from "./triage-helpers.ts";

/** The D1 binding, with every query it runs counted (statements run alone or in a batch). */
function countingD1(d1: D1Database): { db: D1Database; queries: () => number } {
  let queries = 0;
  const watch = (statement: D1PreparedStatement): D1PreparedStatement => {
    for (const method of ["first", "all", "run", "raw"] as const) {
      const original = statement[method].bind(statement) as (...args: unknown[]) => unknown;
      const counted = (...args: unknown[]) => {
        queries++;
        return original(...args);
      };
      Object.assign(statement, { [method]: counted });
    }
    const bind = statement.bind.bind(statement);
    statement.bind = (...values: unknown[]) => watch(bind(...values));
    return statement;
  };
  const db = new Proxy(d1, {
    get(target, property) {
      if (property === "prepare") return (sql: string) => watch(target.prepare(sql));
      if (property === "batch") {
        return (statements: D1PreparedStatement[]) => {
          queries += statements.length;
          return target.batch(statements);
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { db, queries: () => queries };
}

/** D1's limit per Worker invocation on Workers Paid; a queue batch is one invocation. */
const D1_QUERIES_PER_INVOCATION = 1000;
const REPORTS = 40;

const wranglerToml = Object.values(import.meta.glob<string>("../../wrangler.toml", { query: "?raw", import: "default", eager: true }))[0]!;
const maxBatchSize = Number(/^max_batch_size = (\d+)$/m.exec(wranglerToml)?.[1]);

async function queriesPerReport(crash: readonly string[]): Promise<number> {
  const owner = await createOwner();
  const ids: string[] = [];
  for (let i = 0; i < REPORTS; i++) ids.push(await ingestCrash(await enrollNode(owner), crash));
  const counted = countingD1(env.DB);
  const result = await deliver(ids, { DB: counted.db });
  expect(result.acked).toHaveLength(REPORTS);
  return counted.queries() / REPORTS;
}

describe("D1 queries per queue batch", () => {
  it("a hot crash group (one unknown crash from every node) costs a handful of queries per report, and a full batch fits the limit", async () => {
    const perReport = await queriesPerReport(TYPE_ERROR_CRASH);
    // Measured 8.25: the batch's reads once, then each report's receipt, resolution, bridge message and counts.
    expect(perReport).toBeLessThanOrEqual(10);
    expect(perReport * maxBatchSize).toBeLessThan(D1_QUERIES_PER_INVOCATION / 2);
  });

  it("a known issue waiting for its release (every report resolved, one escalation) fits a full batch with room to spare", async () => {
    const perReport = await queriesPerReport(EADDRINUSE_CRASH_LOOP);
    // Measured 13.15: the known-issue path adds the hit count and each node's outbox.
    expect(perReport).toBeLessThanOrEqual(15);
    expect(perReport * maxBatchSize).toBeLessThan(D1_QUERIES_PER_INVOCATION / 2);
  });
});
