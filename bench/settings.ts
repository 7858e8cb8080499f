/**
 * The benchmark's knobs, all from the environment: which parts run (BENCH_ONLY) and the
 * positive integers each part reads. A bad value stops the run before anything starts.
 */

export const PARTS = [
  "ingest",
  "heartbeat",
  "heartbeat-scale",
  "reconnect",
  "d1",
  "per-node",
  "triage",
  "hot-group",
  "update",
  "remediation",
  "agent",
  "agent-start",
  "installers",
  "dashboard",
] as const;
export type Part = (typeof PARTS)[number];

/** BENCH_ONLY=ingest,heartbeat,agent runs only those parts; unset or empty runs all of them. */
export function selectedParts(raw = process.env.BENCH_ONLY): Part[] {
  if (raw === undefined || raw.trim() === "") return [...PARTS];
  const asked = raw
    .split(",")
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== "");
  const unknown = asked.filter((s) => !(PARTS as readonly string[]).includes(s));
  if (unknown.length > 0) throw new Error(`BENCH_ONLY: unknown part(s) ${unknown.join(", ")}; known: ${PARTS.join(", ")}`);
  return PARTS.filter((part) => asked.includes(part));
}

export function positiveInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  return value;
}

export function log(message: string): void {
  console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** value to `digits` decimals, for figures in the results. */
export function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
