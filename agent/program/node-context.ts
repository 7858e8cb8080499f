/**
 * Wires the real world (clock, randomness, the OS user for scrubbing, HTTP) into the crash
 * reporter, once, for both `run` and `report`. Everything below takes these as parameters so
 * tests can pin them.
 */
import os from "node:os";
import type { Enrollment } from "../core/config.ts";
import { crashReporter } from "../crash/reporter.ts";
import type { CrashReporter } from "../crash/reporter.ts";
import type { HomePaths } from "../core/paths.ts";
import { makeScrubber, scrubEvent } from "../crash/scrub.ts";
import type { Scrubber } from "../crash/scrub.ts";
import { log } from "../core/log.ts";
import { telemetrySender } from "../outbox/telemetry-client.ts";
import type { SendTelemetry } from "../outbox/telemetry-client.ts";

export { log };

function currentUsername(): string {
  try {
    return os.userInfo().username;
  } catch {
    // userInfo() throws for a uid with no passwd entry (some containers): nothing to scrub then.
    return "";
  }
}

/** The privacy filter for this computer's user (scrub.ts), for anything that leaves the machine. */
export function realScrubber(): Scrubber {
  return makeScrubber({ homedir: os.homedir(), username: currentUsername() });
}

/** onUploadFailed: every upload the cloud did not take (the node program counts them as errors). */
export function realCrashReporter(paths: HomePaths, enrollment: Enrollment, version: string, onUploadFailed?: () => void): CrashReporter {
  const send = telemetrySender({ server: enrollment.server, key: enrollment.key });
  const scrub = realScrubber();
  const counted: SendTelemetry = async (event) => {
    // Every upload passes here, whatever made the event (an update's reason holds the error of a
    // failed install, path and all): its free text leaves scrubbed. The spool keeps it as made.
    const outcome = await send(scrubEvent(event, scrub));
    if (outcome.kind !== "delivered") onUploadFailed?.();
    return outcome;
  };
  return crashReporter({
    paths,
    send: counted,
    scrub,
    version,
    platform: process.platform,
    arch: process.arch,
    now: Date.now,
    random: Math.random,
    log,
  });
}
