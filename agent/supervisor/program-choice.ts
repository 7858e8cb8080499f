/**
 * Which node program the supervisor starts: `process.execPath versions/<current>/buhdi-node.mjs
 * node` when `current` names an installed version, else the agent the supervisor itself was
 * started from (the sources' cli.ts, or the bundle it runs from). That fallback always exists,
 * so a `current` that is missing, damaged or names a version without a bundle still gives a
 * running node, never none.
 *
 * A node program that has installed an update exits with RESTART_INTO_CURRENT_EXIT_CODE: "start
 * again, from `current`". It is part of the contract between versions (an old supervisor starts
 * new programs), so its value never changes.
 */
import { access } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import type { HomePaths } from "../core/paths.ts";
import { isReleaseBundle } from "../core/version.ts";
import { bundleOf, readVersionName } from "../update/version-store.ts";
import { messageOf } from "../core/errors.ts";

export const RESTART_INTO_CURRENT_EXIT_CODE = 75;

/** The agent this process was started from: the bundle itself, or cli.ts next to this file. */
export const SELF_ENTRY = fileURLToPath(isReleaseBundle() ? import.meta.url : new URL("../cli.ts", import.meta.url));

export type NodeProgram = {
  /** The installed version it runs, or null for the agent the supervisor was started from. */
  version: string | null;
  /** Arguments for process.execPath. */
  args: string[];
};

export async function chooseProgram(paths: HomePaths, log: (message: string) => void): Promise<NodeProgram> {
  const self: NodeProgram = { version: null, args: [...process.execArgv, SELF_ENTRY, "node"] };
  let current: string | null;
  try {
    current = await readVersionName(paths.current);
  } catch (error) {
    log(`could not read ${paths.current} (${messageOf(error)}); starting the agent this supervisor was started from`);
    return self;
  }
  if (current === null) return self;
  const bundle = bundleOf(paths, current);
  try {
    await access(bundle);
  } catch {
    log(`${paths.current} names ${current}, but ${bundle} is missing; starting the agent this supervisor was started from`);
    return self;
  }
  // No execArgv: a bundle is plain JavaScript, whatever flags running the sources needed.
  return { version: current, args: [bundle, "node"] };
}
