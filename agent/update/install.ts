/**
 * Installs a verified bundle so that a kill -9 (or a power cut) at any instant leaves a node that
 * starts, on the old version or the new, never on none. The order is the whole design:
 *   1. build versions/.staging-<v>-<rand>/ (bundle moved in from downloads/, manifest text,
 *      signature), fsync it;
 *   2. rename it to versions/<v>/ (atomic: the directory appears complete or not at all);
 *   3. `previous` := the version running now (absent when that is the agent the supervisor was
 *      started from);
 *   4. update-trial.json := {v, installed_at}: the rollback window is open (supervisor.ts);
 *   5. `current` := v, by tmp + rename. This is the commit: before it the supervisor starts the
 *      old version (a trial naming anything but `current` is stale and ignored), after it the new;
 *   6. prune versions/ to current + previous.
 * Every step before 5 leaves `current` untouched and the old version's files in place; every
 * step after it only removes what nothing points at any more. A kill inside a step leaves at
 * worst a stray staging directory, which step 6 of the next install removes.
 */
import { randomBytes } from "node:crypto";
import { access, mkdir, readdir, rename, rm } from "node:fs/promises";
import path from "node:path";
import { writeFileAtomic } from "../core/atomic-file.ts";
import type { HomePaths } from "../core/paths.ts";
import type { VerifiedRelease } from "./verify.ts";
import {
  BUNDLE_FILE,
  MANIFEST_FILE,
  SIGNATURE_FILE,
  bundleOf,
  readVersionName,
  syncDir,
  versionDir,
  writeTrial,
  writeVersionName,
} from "./version-store.ts";

export const INSTALL_STEPS = ["stage", "publish", "previous", "trial", "current", "prune"] as const;
export type InstallStep = (typeof INSTALL_STEPS)[number];

export type InstallRequest = {
  paths: HomePaths;
  verified: VerifiedRelease;
  /** The downloaded bundle, already checked against the manifest's size and sha256. */
  bundleFile: string;
  runningVersion: string;
  now: Date;
  /** Called before each step (the crash-consistency test SIGKILLs the process there). */
  onStep?: (step: InstallStep) => void | Promise<void>;
};

export type Installed = { version: string; previous: string | null };

export async function installRelease(request: InstallRequest): Promise<Installed> {
  const { paths, verified } = request;
  const version = verified.manifest.version;
  const step = async (name: InstallStep): Promise<void> => {
    await request.onStep?.(name);
  };
  const previous = await runningInstalledVersion(paths, request.runningVersion);

  await step("stage");
  await mkdir(paths.versions, { recursive: true, mode: 0o755 });
  const staging = path.join(paths.versions, `.staging-${version}-${randomBytes(4).toString("hex")}`);
  await mkdir(staging, { mode: 0o755 });
  await rename(request.bundleFile, path.join(staging, BUNDLE_FILE));
  await writeFileAtomic(path.join(staging, MANIFEST_FILE), verified.release.manifest, 0o644);
  const signature = { key_id: verified.release.key_id, signature: verified.release.signature };
  await writeFileAtomic(path.join(staging, SIGNATURE_FILE), `${JSON.stringify(signature, null, 2)}\n`, 0o644);
  await syncDir(staging);

  await step("publish");
  const target = versionDir(paths, version);
  // Left by an install that never became current (or a rollback): not running, safe to replace.
  await rm(target, { recursive: true, force: true });
  await rename(staging, target);
  await syncDir(paths.versions);

  await step("previous");
  await writeVersionName(paths.previous, previous);

  await step("trial");
  await writeTrial(paths, { version, installed_at: request.now.toISOString() });

  await step("current");
  await writeVersionName(paths.current, version);

  await step("prune");
  // Installed already: a version directory that cannot be removed now is removed next time.
  const keep = new Set([version, previous]);
  for (const name of await readdir(paths.versions).catch(() => [])) {
    if (!keep.has(name)) await rm(path.join(paths.versions, name), { recursive: true, force: true }).catch(() => undefined);
  }
  return { version, previous };
}

/**
 * The version to roll back to: the running one if it runs from versions/ (what `current` names
 * and has a bundle), null if it is the agent the supervisor was started from.
 */
async function runningInstalledVersion(paths: HomePaths, runningVersion: string): Promise<string | null> {
  const current = await readVersionName(paths.current);
  if (current === null || current !== runningVersion) return null;
  try {
    await access(bundleOf(paths, current));
    return current;
  } catch {
    return null;
  }
}
