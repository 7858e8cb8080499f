/**
 * Which cloud commands this node has already carried out, and what came of each. The cloud
 * resends a command until it hears the ack, so the same id can arrive again (the ack was lost
 * with the socket, the node died before sending it); such an id is answered from here and never
 * run twice. The file keeps the newest MAX_HANDLED results (a command older than that has long
 * expired in the cloud) and is replaced atomically, so a kill leaves the old list or the new one.
 */
import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { writeFileAtomic } from "../core/atomic-file.ts";
import { isMissing } from "../core/fs-errors.ts";

export const MAX_HANDLED = 500;

const ResultSchema = z.object({
  id: z.string().min(1).max(100),
  status: z.enum(["done", "failed", "rejected"]),
  detail: z.string().max(1000).optional(),
  at: z.iso.datetime(),
});
const FileSchema = z.object({ handled: z.array(ResultSchema) });

export type CommandResult = z.output<typeof ResultSchema>;

export type CommandStore = {
  get(id: string): CommandResult | undefined;
  /** Persists before it returns: the ack is sent only for a result that is on disk. */
  record(result: CommandResult): Promise<void>;
};

export async function openCommandStore(file: string, log: (message: string) => void, max = MAX_HANDLED): Promise<CommandStore> {
  let handled: CommandResult[] = [];
  try {
    const parsed = FileSchema.safeParse(JSON.parse(await readFile(file, "utf8")));
    if (parsed.success) handled = parsed.data.handled;
    else log(`${file} is damaged; starting a new list of handled commands`);
  } catch (error) {
    if (!isMissing(error)) log(`${file} could not be read (${String(error)}); starting a new list of handled commands`);
  }
  const byId = new Map(handled.map((result) => [result.id, result]));

  return {
    get: (id) => byId.get(id),
    async record(result) {
      const next = [...handled.filter((r) => r.id !== result.id), result].slice(-max);
      await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
      await writeFileAtomic(file, `${JSON.stringify({ handled: next }, null, 2)}\n`, 0o600);
      handled = next;
      byId.clear();
      for (const r of next) byId.set(r.id, r);
    },
  };
}
