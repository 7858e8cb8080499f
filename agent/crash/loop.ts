/**
 * Crash loops, as the node program sees them. The supervisor (restart-policy.ts) counts the
 * crashes; it hands each node program it starts what it knows in BUHDI_NODE_CRASH_LOOP, and the
 * program decides here what its crash reporting may do:
 *   - no loop:      report crash.log as usual (one report per crash, sent before the program
 *                   starts, so even a program that dies again at once has told the cloud);
 *   - mode=report:  the loop was just detected (or a long interval passed): report crash.log
 *                   now, with details {crash_count, first_crash_at, last_crash_at};
 *   - mode=hold:    a loop report already went out: leave crash.log alone. If this program
 *                   stays up for quiet_ms (no crash for the loop window: the loop is over), send
 *                   what was held as ONE report with the loop's details.
 * The lines themselves are always crash.log's last 50, and crash.log is rotated only after a 2xx,
 * exactly as for a single crash (crash/reporter.ts): holding delays a report, never drops one.
 */
import { z } from "zod";
import type { Json } from "../../protocol/index.ts";
import { CRASH_LOOP_ENV } from "../supervisor/crash-loop-env.ts";
import type { CrashLoopInfo } from "../supervisor/crash-loop-env.ts";

export { CRASH_LOOP_ENV, encodeCrashLoop } from "../supervisor/crash-loop-env.ts";
export type { CrashLoopInfo } from "../supervisor/crash-loop-env.ts";

const CrashLoopSchema = z.object({
  mode: z.enum(["report", "hold"]),
  crash_count: z.number().int().positive(),
  first_crash_at: z.iso.datetime(),
  last_crash_at: z.iso.datetime(),
  quiet_ms: z.number().int().nonnegative(),
}) satisfies z.ZodType<CrashLoopInfo>;

/** null when there is no loop, or the variable is unreadable (then report as usual: never silent). */
export function parseCrashLoop(env: NodeJS.ProcessEnv): CrashLoopInfo | null {
  const text = env[CRASH_LOOP_ENV];
  if (!text) return null;
  try {
    const parsed = CrashLoopSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

export type CrashReportPlan = { snapshot: boolean; details?: Record<string, Json> };

export function crashReportPlan(info: CrashLoopInfo | null, uptimeMs: number): CrashReportPlan {
  if (info === null) return { snapshot: true };
  const details = { crash_count: info.crash_count, first_crash_at: info.first_crash_at, last_crash_at: info.last_crash_at };
  if (info.mode === "report") return { snapshot: true, details: { ...details, crash_loop: "ongoing" } };
  if (uptimeMs >= info.quiet_ms) return { snapshot: true, details: { ...details, crash_loop: "ended" } };
  return { snapshot: false };
}
