/**
 * What a process tree costs, from Linux /proc: the pids under a root (by parent pid), their
 * resident memory (VmRSS) and their CPU time (utime + stime, plus cutime + cstime so the time of
 * children that exited and were reaped is not lost). Linux only; elsewhere sampling returns null.
 */
import { readdirSync, readFileSync } from "node:fs";

/** Clock ticks per second for /proc/<pid>/stat times (USER_HZ; 100 on every Linux we run on). */
const TICKS_PER_SECOND = 100;

type Stat = { pid: number; ppid: number; comm: string; cpuSeconds: number };

export type TreeSample = {
  /** ms since the epoch. */
  at: number;
  pids: number[];
  commands: string[];
  rssMb: number;
  cpuSeconds: number;
  /** CPU seconds per command name (workerd, node, esbuild, ...). */
  cpuByCommand: Record<string, number>;
  rssMbByCommand: Record<string, number>;
  /** RSS of each pid, in the order of `pids` (root first). */
  rssMbByPid: number[];
  /**
   * The anonymous part of each pid's RSS (RssAnon: heaps, the process's own memory), same order.
   * The rest (RssFile) is mostly the Node binary's pages, which every Node process on the
   * machine counts in its VmRSS but shares with the others.
   */
  rssAnonMbByPid: number[];
};

/** The root and every process descended from it, right now (null when the root is gone). */
export function sampleTree(root: number): TreeSample | null {
  const stats = allStats();
  if (!stats.has(root)) return null;
  const children = new Map<number, number[]>();
  for (const s of stats.values()) children.set(s.ppid, [...(children.get(s.ppid) ?? []), s.pid]);
  const pids: number[] = [];
  const queue = [root];
  while (queue.length > 0 && pids.length < 1000) {
    const pid = queue.shift()!;
    pids.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  let rssKb = 0;
  let cpuSeconds = 0;
  const commands: string[] = [];
  const cpuByCommand: Record<string, number> = {};
  const rssMbByCommand: Record<string, number> = {};
  const rssMbByPid: number[] = [];
  const rssAnonMbByPid: number[] = [];
  for (const pid of pids) {
    const { comm, cpuSeconds: cpu } = stats.get(pid)!;
    const { rss, anon } = rssKbOf(pid) ?? { rss: 0, anon: 0 };
    rssKb += rss;
    cpuSeconds += cpu;
    commands.push(comm);
    cpuByCommand[comm] = (cpuByCommand[comm] ?? 0) + cpu;
    rssMbByCommand[comm] = (rssMbByCommand[comm] ?? 0) + rss / 1024;
    rssMbByPid.push(rss / 1024);
    rssAnonMbByPid.push(anon / 1024);
  }
  return { at: Date.now(), pids, commands, rssMb: rssKb / 1024, cpuSeconds, cpuByCommand, rssMbByCommand, rssMbByPid, rssAnonMbByPid };
}

/** The wrangler or edge-server process (and so the tree) serving this local edge on that port: one of our descendants. */
export function edgeRootPid(url: string): number | null {
  const port = new URL(url).port;
  const mine = sampleTree(process.pid);
  for (const pid of mine?.pids ?? []) {
    const args = cmdlineOf(pid);
    const i = args.indexOf("--port");
    if (i >= 0 && args[i + 1] === port && args.some((a) => a.includes("wrangler"))) return pid;
    // A direct edge (scripts/edge-server.ts) has its settings as one JSON argument.
    if (args.some((a) => a.endsWith("edge-server.ts")) && args.some((a) => a.includes(`"port":${port},`))) return pid;
  }
  return null;
}

function cmdlineOf(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
  } catch {
    return [];
  }
}

/** CPU seconds of one process (its own and its reaped children's), or null when it is gone. */
export function cpuSecondsOf(pid: number): number | null {
  return statOf(pid)?.cpuSeconds ?? null;
}

function allStats(): Map<number, Stat> {
  const stats = new Map<number, Stat>();
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return stats;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = statOf(Number(entry));
    if (stat) stats.set(stat.pid, stat);
  }
  return stats;
}

function statOf(pid: number): Stat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null; // gone, or not Linux
  }
  // "pid (comm) state ppid ..."; comm may hold spaces and parentheses, so split after the last ")".
  const close = text.lastIndexOf(")");
  const comm = text.slice(text.indexOf("(") + 1, close);
  const fields = text.slice(close + 2).split(" ");
  // fields[0] is field 3 (state): utime is field 14, stime 15, cutime 16, cstime 17.
  const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0);
  return { pid, ppid: Number(fields[1]), comm, cpuSeconds: ticks / TICKS_PER_SECOND };
}

/** VmRSS and its RssAnon part, in kB (0 for zombies, which have neither), or null when gone. */
function rssKbOf(pid: number): { rss: number; anon: number } | null {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return null;
  }
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, "m").exec(status)?.[1] ?? 0);
  return { rss: kb("VmRSS"), anon: kb("RssAnon") };
}
