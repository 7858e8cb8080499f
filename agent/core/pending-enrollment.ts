/**
 * A setup code kept for later. When `setup` cannot reach the cloud (no network yet, a timeout,
 * the cloud failing), the install must still succeed: the code and the server are saved here
 * and `run` enrolls with them once the cloud answers (supervisor/enroll-when-online.ts), then
 * deletes the file. The code is a credential until it is spent, so the file is 0600 in a 0700
 * home, like the node key. Read by the supervisor at start: no zod, no protocol import (the
 * code's exact form is checked by enroll() when it is used).
 */
import { mkdir, readFile, rm } from "node:fs/promises";
import { writeFileAtomic } from "./atomic-file.ts";
import { isMissing } from "./fs-errors.ts";
import type { HomePaths } from "./paths.ts";

export type PendingEnrollment = { code: string; server: string; saved_at: string };

export async function savePendingEnrollment(paths: HomePaths, pending: { code: string; server: string }, now = new Date()): Promise<void> {
  await mkdir(paths.home, { recursive: true, mode: 0o700 });
  const record: PendingEnrollment = { code: pending.code, server: pending.server, saved_at: now.toISOString() };
  await writeFileAtomic(paths.pendingEnrollment, `${JSON.stringify(record, null, 2)}\n`, 0o600);
}

/** The saved code, or null when there is none or the file is damaged (nothing to retry with). */
export async function readPendingEnrollment(paths: HomePaths): Promise<PendingEnrollment | null> {
  let text: string;
  try {
    text = await readFile(paths.pendingEnrollment, "utf8");
  } catch (error) {
    if (isMissing(error)) return null;
    throw error;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) return null;
  const { code, server, saved_at } = json as Record<string, unknown>;
  if (typeof code !== "string" || code.trim() === "" || code.length > 64) return null;
  if (typeof server !== "string" || !URL.canParse(server)) return null;
  return { code, server, saved_at: typeof saved_at === "string" ? saved_at : "" };
}

export async function deletePendingEnrollment(paths: HomePaths): Promise<void> {
  await rm(paths.pendingEnrollment, { force: true });
}
