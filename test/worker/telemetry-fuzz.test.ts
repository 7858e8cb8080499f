/**
 * Property-based: thousands of malformed bodies and headers thrown at ingest.
 * Whatever arrives, the answer is a 4xx (never a 5xx) and no row is stored.
 */
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { MAX_ENTRIES, MAX_ENTRY_CHARS } from "../../protocol/telemetry.ts";
import { crashReport, enrollNode, postTelemetry, telemetryRowCount } from "./helpers.ts";

// Each node may send 60 requests a minute: spread the runs over a pool so the
// properties exercise validation, not just the rate limiter.
const POOL_SIZE = 60;
// Thousands of real requests through workerd: generous on a shared 2-core machine.
const FUZZ_TIMEOUT_MS = 240_000;
let pool: string[] = [];
let next = 0;
const nodeKey = () => pool[next++ % pool.length]!;

beforeAll(async () => {
  pool = await Promise.all(Array.from({ length: POOL_SIZE }, async () => (await enrollNode()).node_key));
});

const REQUIRED = ["event_id", "type", "node_version", "os", "arch", "timestamp"] as const;
const wrongTypeValue = fc.oneof(
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.dictionary(fc.string(), fc.integer()),
  fc.array(fc.integer()),
);

/** A valid report with exactly one thing broken. */
const brokenReport = fc.oneof(
  fc.constantFrom(...REQUIRED).map((key) => {
    const report: Record<string, unknown> = { ...crashReport() };
    delete report[key];
    return JSON.stringify(report);
  }),
  fc
    .tuple(fc.constantFrom(...REQUIRED, "entries"), wrongTypeValue)
    .map(([key, value]) => JSON.stringify({ ...crashReport(), [key]: value })),
  fc
    .string({ maxLength: 40 })
    .filter((t) => !["crash_report", "connection_degraded", "error", "health"].includes(t))
    .map((type) => JSON.stringify({ ...crashReport(), type })),
  fc
    .integer({ min: MAX_ENTRIES + 1, max: 200 })
    .map((n) => JSON.stringify(crashReport({ entries: Array.from({ length: n }, () => "line") }))),
  fc.nat({ max: 49 }).map((i) => {
    const entries = crashReport().entries!.slice();
    entries[i % entries.length] = "x".repeat(MAX_ENTRY_CHARS + 1);
    return JSON.stringify(crashReport({ entries }));
  }),
  fc.string({ maxLength: 30 }).map((s) => JSON.stringify(crashReport({ event_id: `${s}-not-a-uuid` }))),
  fc.string({ maxLength: 30 }).map((version) => JSON.stringify(crashReport({ node_version: `v${version}!` }))),
  fc.string({ maxLength: 30 }).map((timestamp) => JSON.stringify(crashReport({ timestamp: `${timestamp}not-a-date` }))),
  // Every proper prefix of an object's JSON is invalid JSON.
  fc.nat().map((n) => {
    const text = JSON.stringify(crashReport());
    return text.slice(0, n % text.length);
  }),
);

/** JSON and text that is nothing like a report. */
const garbage = fc.oneof(
  fc.json({ maxDepth: 3 }).filter((text) => !text.includes("event_id")),
  fc.string({ maxLength: 300 }),
  fc.uint8Array({ maxLength: 300 }).map((bytes) => String.fromCharCode(...bytes)),
);

async function expectRefusedAndNothingStored(send: () => Promise<Response>): Promise<void> {
  const before = await telemetryRowCount();
  const res = await send();
  await res.arrayBuffer();
  expect(res.status).toBeGreaterThanOrEqual(400);
  expect(res.status).toBeLessThan(500);
  expect(await telemetryRowCount()).toBe(before);
}

describe("telemetry ingest under malformed input", () => {
  it(
    "a report with one thing broken is refused with a 4xx and stores nothing",
    async () => {
      await fc.assert(
        fc.asyncProperty(brokenReport, (body) => expectRefusedAndNothingStored(() => postTelemetry(nodeKey(), body))),
        { numRuns: 1200 },
      );
    },
    FUZZ_TIMEOUT_MS,
  );

  it(
    "arbitrary JSON, text and bytes are refused with a 4xx and store nothing",
    async () => {
      await fc.assert(
        fc.asyncProperty(garbage, (body) => expectRefusedAndNothingStored(() => postTelemetry(nodeKey(), body))),
        { numRuns: 800 },
      );
    },
    FUZZ_TIMEOUT_MS,
  );

  const headerText = fc.stringMatching(/^[\x20-\x7e]{0,120}$/);

  it(
    "arbitrary node keys never get a valid report stored",
    async () => {
      const forged = fc.oneof(
        headerText,
        fc.tuple(fc.nat(), fc.constantFrom(..."ABCabc012-_")).map(([i, ch]) => {
          const key = pool[0]!;
          const at = key.lastIndexOf(".") + 1 + (i % 43);
          const swapped = key[at] === ch ? (ch === "A" ? "B" : "A") : ch;
          return key.slice(0, at) + swapped + key.slice(at + 1);
        }),
      );
      await fc.assert(
        fc.asyncProperty(forged, (key) =>
          expectRefusedAndNothingStored(() => postTelemetry(key.trim() === "" ? null : key, crashReport())),
        ),
        { numRuns: 600 },
      );
    },
    FUZZ_TIMEOUT_MS,
  );

  it(
    "arbitrary content types other than JSON are refused with a 4xx and store nothing",
    async () => {
      const contentType = headerText.filter((t) => t.split(";")[0]!.trim().toLowerCase() !== "application/json");
      await fc.assert(
        fc.asyncProperty(contentType, (type) =>
          expectRefusedAndNothingStored(() => postTelemetry(nodeKey(), crashReport(), { "content-type": type })),
        ),
        { numRuns: 400 },
      );
    },
    FUZZ_TIMEOUT_MS,
  );
});
