/**
 * Whole-file writes that a kill or power cut can never leave half-done: write a temp file in
 * the same directory, flush it to disk, rename it over the target. Readers see the old file or
 * the new one, never a torn one. Every state file of the agent goes through here.
 */
import { randomBytes } from "node:crypto";
import { open, rename, unlink } from "node:fs/promises";
import path from "node:path";

/** Temp files start with a dot so directory listings (the spool) can skip them. */
export function isTempFile(name: string): boolean {
  return name.startsWith(".") && name.endsWith(".tmp");
}

export async function writeFileAtomic(target: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  const tmp = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  // "wx" + mode: the file is born with its final permissions (a secret is never world-readable,
  // not even for a moment) and we never write through a file someone else placed there.
  const handle = await open(tmp, "wx", mode);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await unlink(tmp).catch(() => undefined);
    throw error;
  }
  await handle.close();
  try {
    await rename(tmp, target);
  } catch (error) {
    await unlink(tmp).catch(() => undefined);
    throw error;
  }
}
