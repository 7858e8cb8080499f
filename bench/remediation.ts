/**
 * time_to_remediation_s: the product's promise in one figure. Steps 1-3 of `npm run demo`
 * (scripts/demo/scenario.ts) with its settings: from the EADDRINUSE crash (the crash record's
 * own time) to the cloud marking it resolved, verified on 0.3.1. That includes the restart,
 * the report, the queue's batch wait, triage, the signed download and install, the restart into
 * 0.3.1, and the health window the cloud waits before it believes the fix
 * (remediation_health_window_s, shortened from the production 60 s, like the demo).
 */
import { freePort } from "../scripts/local-edge.ts";
import { DEMO_SETTINGS, runDemo } from "../scripts/demo/scenario.ts";
import { log } from "./settings.ts";

export type RemediationFigures = { time_to_remediation_s: number; remediation_health_window_s: number };

export async function benchRemediation(): Promise<RemediationFigures> {
  const run = await runDemo({ ...DEMO_SETTINGS, nodePort: await freePort() }, (line) => log(`remediation: ${line.trim()}`), { through: 3 });
  try {
    const failed = run.steps.find((s) => s.status === "failed");
    if (failed) throw new Error(`demo step ${failed.n} failed: ${failed.error}`);
    if (run.timeToRemediationS === null) throw new Error("no remediation time was measured");
    return { time_to_remediation_s: Math.round(run.timeToRemediationS * 10) / 10, remediation_health_window_s: run.healthWindowS };
  } finally {
    await run.stop();
  }
}
