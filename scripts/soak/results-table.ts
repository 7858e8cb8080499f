/** The soak's results as the table `npm run soak` prints (and docs/soak.md shows). */
import type { SoakResults } from "./run-soak.ts";

export function formatResults(r: SoakResults): string {
  const rows = r.checks.map((c) => [c.ok ? "ok" : "FAILED", c.invariant, c.value]);
  const width = [6, Math.max(...rows.map((x) => x[1]!.length)), 0];
  const lines = [
    "",
    `soak: ${r.faults_s} s of faults, ${r.settings.agents} agents, ${r.settings.simNodes} simulated nodes, ${r.edge_restarts} edge restarts (${r.edge_restart_s.join(" s, ")} s), ${r.seconds_total} s in all`,
    "",
    ...rows.map((x) => `${x[0]!.padEnd(width[0]!)}  ${x[1]!.padEnd(width[1]!)}  ${x[2]}`),
    "",
    `faults injected: ${Object.entries(r.faults_injected)
      .map(([k, n]) => `${k} ${n}`)
      .join(", ")}`,
    `agent actions: ${Object.entries(r.agent_actions)
      .map(([k, n]) => `${k} ${n}`)
      .join(", ")}; simulated nodes reconnected ${r.sim_reconnects} times`,
  ];
  for (const c of r.checks.filter((x) => !x.ok)) lines.push(`FAILED ${c.invariant}: ${c.evidence}`);
  return lines.join("\n");
}
