/**
 * The dashboard's 24 h charts of a node: samples of memory and error count, one per slot (the
 * first full heartbeat in each 5 minutes), none in D1. A sample rides on the node's socket (its
 * attachment, free) until its hour is over; then the hour goes to storage as one row, so a steady
 * node costs one storage write an hour for its charts. The rows are a ring of 24 keys by hour of
 * day: a new hour overwrites the one a day old, so the history stays bounded without a delete.
 */
export type HistorySample = { at: number; memory_mb: number; error_count: number };
type HourRow = { hour: number; samples: HistorySample[] };

const HOUR_MS = 3600_000;
export const HISTORY_SPAN_MS = 24 * HOUR_MS;
const ROW_PREFIX = "history:";
/** Until hourly rows, one key per sample: still read, and moved into hour rows on the first hourly write. */
const LEGACY_PREFIX = "hist:";
/** A socket's attachment holds at most 2 KiB: a buffer this full is written early (a short slot, in the benchmark). */
const MAX_BUFFERED = 12;
/** storage.delete takes at most this many keys at once. */
const DELETE_BATCH = 128;

const hourOf = (at: number) => at - (at % HOUR_MS);
const rowKey = (hour: number) => `${ROW_PREFIX}${String((hour / HOUR_MS) % 24).padStart(2, "0")}`;

/** Whether a heartbeat at `now` gives a sample: the first in its slot. */
export function sampleDue(lastSampleAt: number | null, now: number, slotMs: number): boolean {
  return lastSampleAt === null || Math.floor(lastSampleAt / slotMs) !== Math.floor(now / slotMs);
}

/** Whether the buffer must go to storage before a sample at `now` joins it: its hour is over, or it is full. */
export function flushDue(buffer: HistorySample[], now: number): boolean {
  const first = buffer[0];
  return first !== undefined && (buffer.length >= MAX_BUFFERED || hourOf(first.at) !== hourOf(now));
}

/** Writes samples to their hours' rows (one row per hour, kept with what the row already holds of that hour). */
export async function writeSamples(storage: DurableObjectStorage, samples: HistorySample[]): Promise<void> {
  const byHour = new Map<number, HistorySample[]>();
  for (const sample of samples) byHour.set(hourOf(sample.at), [...(byHour.get(hourOf(sample.at)) ?? []), sample]);
  for (const [hour, fresh] of byHour) {
    const key = rowKey(hour);
    const row = await storage.get<HourRow>(key);
    const kept = row?.hour === hour ? row.samples : [];
    await storage.put(key, { hour, samples: [...kept, ...fresh] } satisfies HourRow);
  }
}

/** Moves the samples the older format stored one key each into hour rows (those under a day old) and deletes the keys. */
export async function migrateLegacySamples(storage: DurableObjectStorage, now: number): Promise<void> {
  const legacy = await storage.list<HistorySample>({ prefix: LEGACY_PREFIX });
  if (legacy.size === 0) return;
  await writeSamples(
    storage,
    [...legacy.values()].filter((sample) => sample.at >= now - HISTORY_SPAN_MS),
  );
  const keys = [...legacy.keys()];
  for (let i = 0; i < keys.length; i += DELETE_BATCH) await storage.delete(keys.slice(i, i + DELETE_BATCH));
}

/** The last 24 h of samples, oldest first: stored hours, the older format's samples not yet moved, and the buffer. */
export async function readHistory(storage: DurableObjectStorage, buffer: HistorySample[], now: number): Promise<HistorySample[]> {
  const cutoff = now - HISTORY_SPAN_MS;
  const rows = await storage.list<HourRow>({ prefix: ROW_PREFIX });
  const legacy = await storage.list<HistorySample>({ prefix: LEGACY_PREFIX });
  return [...[...rows.values()].flatMap((row) => row.samples), ...legacy.values(), ...buffer]
    .filter((sample) => sample.at >= cutoff)
    .sort((a, b) => a.at - b.at);
}
