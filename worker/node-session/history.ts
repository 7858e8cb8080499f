/**
 * The dashboard's 24 h charts of a node: samples of memory and error count, one per slot (the
 * first full heartbeat in each 5 minutes), none in D1. A sample rides on the node's socket (its
 * attachment, free) until its row of 12 slots (an hour) is over; then the row goes to storage as
 * one write, so a steady node costs one storage write an hour for its charts. The rows are a ring
 * of 24 keys: a new hour overwrites the one a day old, so the history stays bounded without a
 * delete. Rows follow the slot (HISTORY_SLOT_SECONDS), so a benchmark that runs the clocks faster
 * sees the same writes per row.
 */
export type HistorySample = { at: number; memory_mb: number; error_count: number };
type Row = { start: number; samples: HistorySample[] };

export const HISTORY_SPAN_MS = 24 * 3600_000;
const SLOTS_PER_ROW = 12;
const RING_ROWS = 24;
const ROW_PREFIX = "history:";
/** Before rows, one key per sample: still read, and moved into hour rows on the first hourly write. */
const LEGACY_PREFIX = "hist:";
/** storage.delete takes at most this many keys at once. */
const DELETE_BATCH = 128;

const rowOf = (at: number, slotMs: number) => at - (at % (SLOTS_PER_ROW * slotMs));
const rowKey = (start: number, slotMs: number) => `${ROW_PREFIX}${String((start / (SLOTS_PER_ROW * slotMs)) % RING_ROWS).padStart(2, "0")}`;

/** Whether a heartbeat at `now` gives a sample: the first in its slot. */
export function sampleDue(lastSampleAt: number | null, now: number, slotMs: number): boolean {
  return lastSampleAt === null || Math.floor(lastSampleAt / slotMs) !== Math.floor(now / slotMs);
}

/**
 * Whether the buffer must go to storage before a sample at `now` joins it: its row is over (or it
 * holds a row's worth: a socket's attachment holds at most 2 KiB).
 */
export function flushDue(buffer: HistorySample[], now: number, slotMs: number): boolean {
  const first = buffer[0];
  return first !== undefined && (buffer.length >= SLOTS_PER_ROW || rowOf(first.at, slotMs) !== rowOf(now, slotMs));
}

/** Writes samples to their rows (one write per row, kept with what the row already holds of its span). */
export async function writeSamples(storage: DurableObjectStorage, samples: HistorySample[], slotMs: number): Promise<void> {
  const byRow = new Map<number, HistorySample[]>();
  for (const sample of samples) {
    const start = rowOf(sample.at, slotMs);
    byRow.set(start, [...(byRow.get(start) ?? []), sample]);
  }
  for (const [start, fresh] of byRow) {
    const key = rowKey(start, slotMs);
    const row = await storage.get<Row>(key);
    const kept = row?.start === start ? row.samples : [];
    await storage.put(key, { start, samples: [...kept, ...fresh] } satisfies Row);
  }
}

/** Moves the samples the older format stored one key each into rows (those under a day old) and deletes the keys. */
export async function migrateLegacySamples(storage: DurableObjectStorage, now: number, slotMs: number): Promise<void> {
  const legacy = await storage.list<HistorySample>({ prefix: LEGACY_PREFIX });
  if (legacy.size === 0) return;
  await writeSamples(
    storage,
    [...legacy.values()].filter((sample) => sample.at >= now - HISTORY_SPAN_MS),
    slotMs,
  );
  const keys = [...legacy.keys()];
  for (let i = 0; i < keys.length; i += DELETE_BATCH) await storage.delete(keys.slice(i, i + DELETE_BATCH));
}

/** The last 24 h of samples, oldest first: stored rows, the older format's samples not yet moved, and the buffer. */
export async function readHistory(storage: DurableObjectStorage, buffer: HistorySample[], now: number): Promise<HistorySample[]> {
  const cutoff = now - HISTORY_SPAN_MS;
  const rows = await storage.list<Row>({ prefix: ROW_PREFIX });
  const legacy = await storage.list<HistorySample>({ prefix: LEGACY_PREFIX });
  return [...[...rows.values()].flatMap((row) => row.samples), ...legacy.values(), ...buffer]
    .filter((sample) => sample.at >= cutoff)
    .sort((a, b) => a.at - b.at);
}
