/**
 * Open-file limit for the WebSocket benchmark: every simulated node is a socket here and one or
 * two in workerd (wrangler dev's proxy and the Worker), and children inherit our limit. Node
 * itself raises its soft limit to the hard one at startup; should that not have happened, the
 * soft limit is raised with util-linux `prlimit` on our own pid before any edge starts. The hard
 * limit can only be raised from outside (root, or the shell's `ulimit -Hn`).
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";

export type FdLimit = { softBefore: number | null; soft: number | null; hard: number | null; note: string };

export function raiseFdLimit(): FdLimit {
  const before = readLimit();
  if (!before) return { softBefore: null, soft: null, hard: null, note: "no /proc/self/limits: not checked" };
  if (before.soft >= before.hard)
    return { softBefore: before.soft, ...before, note: "soft limit equals the hard limit (Node raises it at startup)" };
  const result = spawnSync("prlimit", ["--pid", String(process.pid), `--nofile=${before.hard}:${before.hard}`], { encoding: "utf8" });
  const after = readLimit() ?? before;
  const note =
    after.soft > before.soft
      ? `raised the soft limit from ${before.soft} with prlimit`
      : `could not raise the soft limit (${result.error?.message ?? (result.stderr.trim() || `prlimit exited ${result.status}`)})`;
  return { softBefore: before.soft, ...after, note };
}

function readLimit(): { soft: number; hard: number } | null {
  try {
    const line = readFileSync("/proc/self/limits", "utf8")
      .split("\n")
      .find((l) => l.startsWith("Max open files"));
    const [soft, hard] =
      line
        ?.split(/\s{2,}/)
        .slice(1, 3)
        .map((v) => (v === "unlimited" ? Infinity : Number(v))) ?? [];
    return soft !== undefined && hard !== undefined && Number.isFinite(soft) ? { soft, hard } : null;
  } catch {
    return null;
  }
}
