/**
 * The installed releases on disk, and the small files that say which one runs:
 *   versions/<version>/    buhdi-node.mjs + manifest.json (the signed text) + signature.json
 *   current                the version the supervisor runs (absent: the agent it was started from)
 *   previous               the version kept for rollback (absent: the agent it was started from)
 *   update-trial.json      {version, installed_at} while the newest install is in its rollback window
 *   rolled-back.json       {versions: [...]}: rolled back from once, never installed again
 * Every file is replaced atomically (tmp + fsync + rename), so a kill leaves the old content or
 * the new, and a version directory appears under versions/ only complete (install.ts). A file
 * that does not hold what it should reads as absent: the supervisor then runs the agent it was
 * started from, which always exists.
 *
 * The checks are by hand, not zod: the supervisor reads `current` and update-trial.json at every
 * start, and evaluating zod and the protocol's schemas would cost it memory for nothing else.
 */
import { open, readFile, unlink } from "node:fs/promises";
import path from "node:path";
import { writeFileAtomic } from "../core/atomic-file.ts";
import { isMissing } from "../core/fs-errors.ts";
import type { HomePaths } from "../core/paths.ts";

export const BUNDLE_FILE = "buhdi-node.mjs";
export const MANIFEST_FILE = "manifest.json";
export const SIGNATURE_FILE = "signature.json";
/** rolled-back.json keeps this many (a node that rolls back this often has other problems). */
const MAX_ROLLED_BACK = 100;

export type UpdateTrial = { version: string; installed_at: string };

/**
 * The protocol's VersionSchema pattern (protocol/telemetry.ts), which every version on disk came
 * through; test/agent/update/version-store.test.ts holds the two to the same answers. It is also what
 * keeps a damaged `current` from naming a path outside versions/.
 */
const VERSION = /^\d{1,6}\.\d{1,6}\.\d{1,6}(?:-[0-9A-Za-z.-]{1,64})?(?:\+[0-9A-Za-z.-]{1,64})?$/;
/** An instant in the form toISOString() writes (UTC, "Z"; seconds required, any fraction). */
const ISO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z$/;

/** As z.iso.datetime(): the form, and a real date and time (Date.parse alone takes Feb 30 and 24:00). */
function isIsoUtc(value: unknown): value is string {
  if (typeof value !== "string" || !ISO_UTC.test(value)) return false;
  const ms = Date.parse(value);
  return !Number.isNaN(ms) && new Date(ms).toISOString().slice(0, 19) === value.slice(0, 19);
}

export function isVersionName(value: unknown): value is string {
  return typeof value === "string" && VERSION.test(value);
}

function parseTrial(json: unknown): UpdateTrial | null {
  if (typeof json !== "object" || json === null || Array.isArray(json)) return null;
  const { version, installed_at } = json as Record<string, unknown>;
  if (!isVersionName(version)) return null;
  if (!isIsoUtc(installed_at)) return null;
  return { version, installed_at };
}

function parseRolledBack(json: unknown): string[] | null {
  if (typeof json !== "object" || json === null || Array.isArray(json)) return null;
  const { versions } = json as Record<string, unknown>;
  return Array.isArray(versions) && versions.every(isVersionName) ? versions : null;
}

export function versionDir(paths: HomePaths, version: string): string {
  return path.join(paths.versions, version);
}

export function bundleOf(paths: HomePaths, version: string): string {
  return path.join(versionDir(paths, version), BUNDLE_FILE);
}

async function readText(file: string): Promise<string | null> {
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    if (isMissing(error)) return null;
    throw error;
  }
}

/** `current` or `previous`: a version, or null (absent or not a version). */
export async function readVersionName(file: string): Promise<string | null> {
  const text = (await readText(file))?.trim() ?? null;
  return isVersionName(text) ? text : null;
}

/** null removes the file: "the agent the supervisor was started from". */
export async function writeVersionName(file: string, version: string | null): Promise<void> {
  if (version === null) {
    await unlink(file).catch((error: unknown) => {
      if (!isMissing(error)) throw error;
    });
  } else {
    await writeFileAtomic(file, `${version}\n`, 0o644);
  }
  await syncDir(path.dirname(file));
}

export async function readTrial(paths: HomePaths): Promise<UpdateTrial | null> {
  const text = await readText(paths.updateTrial);
  if (text === null) return null;
  try {
    return parseTrial(JSON.parse(text));
  } catch {
    return null;
  }
}

export async function writeTrial(paths: HomePaths, trial: UpdateTrial): Promise<void> {
  await writeFileAtomic(paths.updateTrial, `${JSON.stringify(trial)}\n`, 0o644);
}

export async function clearTrial(paths: HomePaths): Promise<void> {
  await unlink(paths.updateTrial).catch((error: unknown) => {
    if (!isMissing(error)) throw error;
  });
}

export async function readRolledBack(paths: HomePaths): Promise<Set<string>> {
  const text = await readText(paths.rolledBack);
  if (text === null) return new Set();
  try {
    return new Set(parseRolledBack(JSON.parse(text)) ?? []);
  } catch {
    return new Set();
  }
}

export async function addRolledBack(paths: HomePaths, version: string): Promise<void> {
  const versions = [...(await readRolledBack(paths))].filter((v) => v !== version);
  versions.push(version);
  await writeFileAtomic(paths.rolledBack, `${JSON.stringify({ versions: versions.slice(-MAX_ROLLED_BACK) }, null, 2)}\n`, 0o644);
}

/**
 * Makes a rename in `dir` durable (a power cut right after it keeps it). POSIX only: Windows
 * cannot open a directory for fsync, and NTFS journals renames itself.
 */
export async function syncDir(dir: string): Promise<void> {
  if (process.platform === "win32") return;
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
