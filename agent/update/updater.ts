/**
 * SOFTWARE_UPDATE, start to end, in the node program: verify the signed release
 * (update/verify.ts), download the bundle (update/download.ts, up to 1 + retryDelaysMs.length
 * attempts, resuming), install it (install.ts), and say what happened.
 *   - Success: update_progress "downloaded" then "installed", the command is acked done, and
 *     the caller restarts the node program into the new version (run.ts exits with
 *     RESTART_INTO_CURRENT_EXIT_CODE; the supervisor starts `current`).
 *   - Any refusal or failure: nothing is installed, the running version goes on, the command is
 *     acked failed with the reason, and update_failed {version, code, reason} goes to the spool.
 *   - The very release this node installed and now runs (same signed manifest and signature):
 *     acked done, nothing fetched. That is a command re-sent because the node was killed after
 *     the commit and before its ack; calling it "not newer" would record a failed update that
 *     in fact succeeded. Any other release of the running version is still refused (a replay).
 *   - Told to stop (the command's deadline, `signal`): the download is cut, no further attempt
 *     and no install start, and update_failed says why.
 * Telemetry is spooled before the ack is returned, so the report survives the restart.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import type { Json, TelemetryEvent } from "../../protocol/index.ts";
import { installRelease } from "./install.ts";
import type { HomePaths } from "../core/paths.ts";
import { downloadBundle } from "./download.ts";
import type { DownloadOutcome } from "./download.ts";
import { verifyRelease } from "./verify.ts";
import type { Refusal } from "./verify.ts";
import type { Keyring } from "./trusted-keys.ts";
import { updateFailedEvent, updateProgressEvent } from "./events.ts";
import type { EventContext } from "../core/event-envelope.ts";
import { MANIFEST_FILE, SIGNATURE_FILE, readRolledBack, readVersionName, versionDir } from "./version-store.ts";
import { messageOf } from "../core/errors.ts";

export type UpdaterDeps = {
  paths: HomePaths;
  /** The running version. */
  version: string;
  server: string;
  nodeKey: string;
  keys: Keyring;
  platform: string;
  arch: string;
  now: () => number;
  log: (message: string) => void;
  /** Spools the event (on disk when this resolves) and asks for an upload; never rejects. */
  report: (event: TelemetryEvent) => Promise<void>;
  /** Waits between download attempts; their count + 1 is the number of attempts. */
  retryDelaysMs: readonly number[];
  idleTimeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
};

/** installed: the version to restart into; null when nothing new was installed. */
export type UpdateResult =
  | { status: "done"; detail: string; installed: string | null }
  | { status: "failed"; detail: string; code: string };

/** signal: the command's deadline passed; stop (the download is cut, nothing more is installed). */
export type Updater = (payload: Record<string, Json>, options?: { signal?: AbortSignal }) => Promise<UpdateResult>;

export function createUpdater(deps: UpdaterDeps): Updater {
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const context = (): EventContext => ({ version: deps.version, platform: deps.platform, arch: deps.arch, now: new Date(deps.now()) });
  /** Set once an install succeeded: this process is about to be replaced. */
  let installed: string | null = null;

  const failed = async (refusal: Refusal): Promise<UpdateResult> => {
    deps.log(`update${refusal.version ? ` to ${refusal.version}` : ""} refused: ${refusal.reason}`);
    await deps.report(updateFailedEvent(context(), refusal));
    return { status: "failed", code: refusal.code, detail: refusal.reason.slice(0, 1000) };
  };

  const download = async (url: string, sha256: string, size: number, signal: AbortSignal | undefined): Promise<DownloadOutcome> => {
    let outcome: DownloadOutcome | null = null;
    for (let attempt = 0; attempt <= deps.retryDelaysMs.length; attempt += 1) {
      if (attempt > 0) {
        const delay = deps.retryDelaysMs[attempt - 1]!;
        deps.log(`download attempt ${attempt} failed (${outcome && !outcome.ok ? outcome.reason : ""}); trying again in ${delay} ms`);
        await Promise.race([sleep(delay), aborted(signal)]);
      }
      if (signal?.aborted && outcome !== null) return outcome;
      outcome = await downloadBundle({
        url,
        nodeKey: deps.nodeKey,
        sha256,
        size,
        dir: deps.paths.downloads,
        idleTimeoutMs: deps.idleTimeoutMs,
        signal,
      });
      if (outcome.ok || !outcome.retryable || signal?.aborted) return outcome;
    }
    return outcome!;
  };

  /** Verify, download, install: one command's update. */
  const update = async (payload: Record<string, Json>, signal: AbortSignal | undefined): Promise<UpdateResult> => {
    if (await runsThisRelease(deps.paths, deps.version, payload)) {
      deps.log(`update to ${deps.version}: this very release is installed and running; nothing to do`);
      return { status: "done", installed: null, detail: `${deps.version} is already installed and running` };
    }
    const verdict = verifyRelease(payload, {
      keys: deps.keys,
      now: deps.now(),
      runningVersion: deps.version,
      rolledBack: await readRolledBack(deps.paths),
    });
    if (!verdict.ok) return failed(verdict.refusal);
    const { manifest, release } = verdict.value;
    const version = manifest.version;
    deps.log(`update to ${version}: signature by key ${release.key_id} verified; downloading ${manifest.size} bytes`);

    let stage = "download";
    try {
      const got = await download(`${deps.server}${release.download_path}`, manifest.sha256, manifest.size, signal);
      if (!got.ok) return await failed({ code: got.code, reason: got.reason, version });
      await deps.report(updateProgressEvent(context(), "downloaded", { version, bytes: got.bytes, resumed_from: got.resumedFrom }));

      stage = "install";
      if (signal?.aborted) return await failed({ code: "stopped", reason: `not installed: ${stopReason(signal)}`, version });
      const done = await installRelease({
        paths: deps.paths,
        verified: verdict.value,
        bundleFile: got.file,
        runningVersion: deps.version,
        now: new Date(deps.now()),
      });
      installed = version;
      await deps.report(updateProgressEvent(context(), "installed", { version, from: deps.version }));
      deps.log(`installed ${version} (rollback to ${done.previous ?? "the agent the supervisor was started from"} if it fails to stay up)`);
      return { status: "done", installed: version, detail: `installed ${version}; restarting into it` };
    } catch (error) {
      const message = messageOf(error);
      return failed({ code: `${stage}_failed`, reason: `could not ${stage} ${version}: ${message}`, version });
    }
  };

  /** An update told to stop that has not stopped yet (a hung disk): the next one must not run alongside. */
  let busy = false;
  return async (payload, options = {}) => {
    if (installed !== null) {
      return failed({
        code: "restart_pending",
        reason: `${installed} is installed and the node is restarting into it; send the update again afterwards`,
        version: null,
      });
    }
    if (busy) return failed({ code: "busy", reason: "an earlier update is still stopping; send this one again later", version: null });
    busy = true;
    try {
      return await update(payload, options.signal);
    } finally {
      busy = false;
    }
  };
}

/** Resolves when the signal aborts (never, without one). */
function aborted(signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (!signal) return;
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
}

function stopReason(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason.message : "the update was stopped";
}

/**
 * Whether `payload` is the signed release this node installed and runs now: `current` names the
 * running version and its manifest.json and signature.json are the payload's, byte for byte.
 * Those were verified when installed; nothing is downloaded or installed on the strength of this.
 */
async function runsThisRelease(paths: HomePaths, runningVersion: string, payload: Record<string, Json>): Promise<boolean> {
  if (typeof payload.manifest !== "string" || typeof payload.signature !== "string" || typeof payload.key_id !== "string") return false;
  if ((await readVersionName(paths.current)) !== runningVersion) return false;
  try {
    const dir = versionDir(paths, runningVersion);
    const manifest = await readFile(path.join(dir, MANIFEST_FILE), "utf8");
    const signature: unknown = JSON.parse(await readFile(path.join(dir, SIGNATURE_FILE), "utf8"));
    return (
      manifest === payload.manifest &&
      typeof signature === "object" &&
      signature !== null &&
      "signature" in signature &&
      signature.signature === payload.signature &&
      "key_id" in signature &&
      signature.key_id === payload.key_id
    );
  } catch {
    return false; // not installed from a release (or unreadable): the normal checks decide
  }
}
