/**
 * The outbox: one JSON file per telemetry event the cloud has not accepted yet, holding the
 * event exactly as it will be sent (so its event_id never changes between retries and the cloud
 * stores it once) plus its retry state. Files are replaced atomically, so a kill mid-write leaves
 * the previous version. Any telemetry type goes through here; crash reports add `crash_log`, the
 * slice of crash.log they were made from.
 */
import { mkdir, readdir, readFile, rename, unlink } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { TelemetryEventSchema } from "../../protocol/index.ts";
import type { TelemetryEvent } from "../../protocol/index.ts";
import { isTempFile, writeFileAtomic } from "../core/atomic-file.ts";
import { isMissing } from "../core/fs-errors.ts";

const SpoolEntrySchema = z.object({
  id: z.string().regex(/^[0-9]{13}-[0-9a-f-]{36}$/),
  event: TelemetryEventSchema,
  created_at: z.iso.datetime(),
  attempts: z.number().int().nonnegative(),
  next_attempt_at: z.iso.datetime(),
  not_before: z.iso.datetime().nullable(),
  last_error: z.string().nullable(),
  crash_log: z.object({ covers_bytes: z.number().int().positive(), sha256: z.string().regex(/^[0-9a-f]{64}$/) }).nullable(),
});

export type SpoolEntry = z.output<typeof SpoolEntrySchema>;

export type Spool = {
  dir: string;
  rejectedDir: string;
  log: (message: string) => void;
};

function fileOf(spool: Spool, entry: Pick<SpoolEntry, "id">): string {
  return path.join(spool.dir, `${entry.id}.json`);
}

export async function addEntry(
  spool: Spool,
  event: TelemetryEvent,
  options: { now: number; crash_log?: SpoolEntry["crash_log"] },
): Promise<SpoolEntry> {
  const at = new Date(options.now).toISOString();
  const entry: SpoolEntry = {
    // Creation time first so a plain sort of file names is oldest-first.
    id: `${String(options.now).padStart(13, "0")}-${event.event_id}`,
    event,
    created_at: at,
    attempts: 0,
    next_attempt_at: at,
    not_before: null,
    last_error: null,
    crash_log: options.crash_log ?? null,
  };
  await saveEntry(spool, entry);
  // One line per event the node owes the cloud: a technician (and the soak) can match a node's
  // log against what the cloud stored, by event_id.
  spool.log(`queued ${event.type} ${event.event_id} for the cloud`);
  return entry;
}

export async function saveEntry(spool: Spool, entry: SpoolEntry): Promise<void> {
  await mkdir(spool.dir, { recursive: true, mode: 0o700 });
  await writeFileAtomic(fileOf(spool, entry), `${JSON.stringify(entry, null, 2)}\n`, 0o600);
}

/** Oldest first. A file that cannot be read as an entry is moved aside, not retried forever. */
export async function listEntries(spool: Spool): Promise<SpoolEntry[]> {
  let names: string[];
  try {
    names = await readdir(spool.dir);
  } catch (error) {
    if (isMissing(error)) return [];
    throw error;
  }
  const entries: SpoolEntry[] = [];
  for (const name of names.filter((n) => n.endsWith(".json") && !isTempFile(n)).sort()) {
    const file = path.join(spool.dir, name);
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (error) {
      if (isMissing(error)) continue; // another process delivered it meanwhile
      throw error;
    }
    const parsed = safeParseEntry(text);
    if (parsed && `${parsed.id}.json` === name) {
      entries.push(parsed);
    } else {
      spool.log(`spool file ${name} is damaged; moved to ${spool.rejectedDir}`);
      await moveAside(spool, file, name);
    }
  }
  return entries;
}

function safeParseEntry(text: string): SpoolEntry | null {
  try {
    const result = SpoolEntrySchema.safeParse(JSON.parse(text));
    return result.success ? result.data : null;
  } catch {
    return null;
  }
}

export async function removeEntry(spool: Spool, entry: SpoolEntry): Promise<void> {
  await unlink(fileOf(spool, entry)).catch((error: unknown) => {
    if (!isMissing(error)) throw error;
  });
}

/** For events the cloud will never accept: kept (for a human) but out of the retry loop. */
export async function rejectEntry(spool: Spool, entry: SpoolEntry, reason: string): Promise<string> {
  await saveEntry(spool, { ...entry, last_error: reason });
  return moveAside(spool, fileOf(spool, entry), `${entry.id}.json`);
}

async function moveAside(spool: Spool, file: string, name: string): Promise<string> {
  await mkdir(spool.rejectedDir, { recursive: true, mode: 0o700 });
  const target = path.join(spool.rejectedDir, name);
  await rename(file, target);
  return target;
}
