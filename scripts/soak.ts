/**
 * `npm run soak`: the fleet under injected faults (scripts/soak/run-soak.ts), then its
 * invariants as a table. Exits 1 when one fails, naming it with the evidence; writes
 * soak-results.json either way. Ctrl-C stops every process it started.
 *
 *   npm run soak                  # 5 minutes, 20 agents, 2,000 simulated nodes, 2 edge kills
 *   SOAK_SECONDS=60 npm run soak  # shorter
 *   SOAK_AGENTS, SOAK_SIM_NODES, SOAK_EDGE_KILLS change the rest.
 */
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { REPO_ROOT } from "./local-edge.ts";
import { formatResults } from "./soak/results-table.ts";
import { SOAK_DEFAULTS, type SoakSettings, soak } from "./soak/run-soak.ts";

function whole(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    console.error(`${name} must be a whole number from ${min} to ${max}, not ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return value;
}

const settings: SoakSettings = {
  ...SOAK_DEFAULTS,
  seconds: whole("SOAK_SECONDS", SOAK_DEFAULTS.seconds, 30, 3600),
  agents: whole("SOAK_AGENTS", SOAK_DEFAULTS.agents, 4, 100),
  simNodes: whole("SOAK_SIM_NODES", SOAK_DEFAULTS.simNodes, 0, 10_000),
  edgeKills: whole("SOAK_EDGE_KILLS", SOAK_DEFAULTS.edgeKills, 0, 10),
};
settings.steadyAgents = Math.min(settings.steadyAgents, Math.floor(settings.agents / 4));

const run = soak(settings, (line) => console.log(line));
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    console.log(`${signal}: stopping every process the soak started`);
    void run.stop().finally(() => process.exit(130));
  });
}

const results = await run.run();
await writeFile(path.join(REPO_ROOT, "soak-results.json"), `${JSON.stringify(results, null, 2)}\n`);
console.log(formatResults(results));
process.exit(results.ok ? 0 : 1);
