/**
 * `npm run demo`: Nana's scenario, zero-touch, narrated (scripts/demo/scenario.ts says
 * what happens and how). Ends with a summary table; exits 1 if any step did not happen, 0 when
 * all did. Every process it started is stopped on the way out, also on Ctrl-C.
 *   BUHDI_DEMO_NODE_PORT  the node's local port (default 9847)
 */
import { DEMO_SETTINGS, runDemo, type DemoRun, type StepReport } from "./demo/scenario.ts";

const settings = { ...DEMO_SETTINGS, nodePort: Number(process.env.BUHDI_DEMO_NODE_PORT ?? DEMO_SETTINGS.nodePort) };

console.log(`Buhdi fleet demo: Nana's "Kitchen Laptop", from crash to fix with nobody in the loop.
Shortened for the demo: heartbeats every ${settings.heartbeatSeconds} s (30 s in production), a fix counts as verified after
${settings.verifyHealthySeconds} s healthy (60 s), an update's rollback window is ${settings.updateHealthyMs / 1000} s (60 s), a crash loop is 3 crashes
in ${settings.crashLoopWindowMs / 1000} s (10 min), and a program that ran ${settings.stableRunMs / 1000} s (60 s) is restarted without backoff when it dies.`);

let stop: (() => Promise<void>) | null = null;
let interrupted = false;
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => {
    if (interrupted) return;
    interrupted = true;
    console.log(`\n${signal}: stopping everything the demo started…`);
    void (stop?.() ?? Promise.resolve()).finally(() => process.exit(130));
  });
}

const run: DemoRun = await runDemo(settings, (line) => console.log(line), { onStop: (s) => (stop = s) });
if (!interrupted) {
  await run.stop();
  console.log(`\n${summary(run.steps)}`);
  if (run.timeToRemediationS !== null) {
    console.log(
      `\nTime to remediation: ${run.timeToRemediationS.toFixed(1)} s from the crash to the cloud verifying 0.3.1 healthy (health window ${run.healthWindowS} s).`,
    );
  }
  console.log(run.ok ? "\nEvery step happened. Nana never knew." : "\nA step did not happen (see above).");
  process.exitCode = run.ok ? 0 : 1;
}

function summary(steps: StepReport[]): string {
  const rows = steps.map((s) => [
    `${s.n}. ${s.title}`,
    s.status === "ok" ? (s.seen.at(-1) ?? "") : s.status === "failed" ? `FAILED: ${s.error ?? ""}` : "not reached",
    s.status === "not_reached" ? "" : s.seconds.toFixed(1),
  ]);
  const header = ["step", "what was seen", "seconds"];
  const clip = (text: string, width: number) => (text.length > width ? `${text.slice(0, width - 1)}…` : text);
  const widths = [Math.max(header[0]!.length, ...rows.map((r) => r[0]!.length)), 72, 7];
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 2 ? c.padStart(widths[i]!) : clip(c, widths[i]!).padEnd(widths[i]!))).join("  ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}
