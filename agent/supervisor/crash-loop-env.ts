/**
 * The supervisor's half of the crash-loop hand-over (crash/loop.ts has the whole story): the
 * variable it sets for the node program it starts, and what it writes there. Apart from
 * crash/loop.ts, whose schema reads it back, so that the supervisor does not evaluate zod.
 */
export const CRASH_LOOP_ENV = "BUHDI_NODE_CRASH_LOOP";

export type CrashLoopInfo = {
  mode: "report" | "hold";
  crash_count: number;
  /** ISO 8601 UTC. */
  first_crash_at: string;
  last_crash_at: string;
  /** How long this program must stay up before its held report counts the loop as over. */
  quiet_ms: number;
};

export function encodeCrashLoop(info: CrashLoopInfo): string {
  return JSON.stringify(info);
}
