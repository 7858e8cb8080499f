/**
 * `run` on a computer that setup could not connect: it enrolls with the saved setup code
 * (core/pending-enrollment.ts) as soon as the cloud answers, retrying on the schedule of
 * enroll-retry.ts, and deletes the code once it is spent. A refused code is deleted too (it can
 * never work), and `run` stops with a sentence saying to ask for a new setup link.
 *
 * Imported by the supervisor only when a saved code exists: it brings enroll.ts and with it the
 * protocol's schemas, which an enrolled supervisor never loads.
 */
import type { Enrollment } from "../core/config.ts";
import { loadEnrollment, NotEnrolledError } from "../core/config.ts";
import { messageOf } from "../core/errors.ts";
import type { HomePaths } from "../core/paths.ts";
import { deletePendingEnrollment, type PendingEnrollment } from "../core/pending-enrollment.ts";
import { enroll, EnrollError } from "../enroll.ts";
import { afterFailedEnroll } from "./enroll-retry.ts";
import type { EnrollRetryTiming } from "./tuning.ts";

export type EnrollWhenOnlineOptions = {
  paths: HomePaths;
  pending: PendingEnrollment;
  version: string;
  timing: EnrollRetryTiming;
  log: (line: string) => void;
  random?: () => number;
};

export async function enrollWhenOnline(o: EnrollWhenOnlineOptions): Promise<Enrollment> {
  const random = o.random ?? Math.random;
  o.log(`not connected yet: enrolling with the setup code saved ${o.pending.saved_at ? `at ${o.pending.saved_at}` : "earlier"}`);
  for (let attempts = 1; ; attempts++) {
    // Enrolled meanwhile by another process (a second setup with a new code): nothing to do.
    const done = await loadEnrollment(o.paths).catch(() => null);
    if (done) {
      await deletePendingEnrollment(o.paths);
      return done;
    }
    try {
      const enrollment = await enroll({ code: o.pending.code, server: o.pending.server, version: o.version, paths: o.paths });
      await deletePendingEnrollment(o.paths);
      o.log(`connected this computer to Buhdi as node ${enrollment.node_id} (after ${attempts} attempt${attempts === 1 ? "" : "s"})`);
      return enrollment;
    } catch (error) {
      const failure = error instanceof EnrollError ? error : new EnrollError(messageOf(error), { retryable: true });
      const decision = afterFailedEnroll(failure, attempts, random, o.timing);
      if (!decision.retry) {
        await deletePendingEnrollment(o.paths);
        throw new NotEnrolledError(
          `the saved setup code was refused: ${failure.message} Ask for a new setup link to connect this computer.`,
        );
      }
      o.log(`could not enroll yet (attempt ${attempts}): ${failure.message} Trying again in ${Math.round(decision.delayMs / 100) / 10} s.`);
      await new Promise((resolve) => setTimeout(resolve, decision.delayMs));
    }
  }
}
