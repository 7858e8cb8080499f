/**
 * The soak's short form (`npm run soak` runs the long one): one minute of injected network
 * faults, real crashes and sleeps of real agents, a release pushed and an edge SIGKILLed and
 * started again, then every invariant of scripts/soak/invariants.ts must hold. It proves the
 * soak runs and that the fleet keeps every report and every node through all of it.
 */
import { afterAll, describe, expect, it } from "vitest";
import { formatResults } from "../../../scripts/soak/results-table.ts";
import { SOAK_DEFAULTS, type Soak, soak } from "../../../scripts/soak/run-soak.ts";

const SHORT = { ...SOAK_DEFAULTS, seconds: 60, agents: 8, steadyAgents: 2, simNodes: 200, edgeKills: 1, recoverySeconds: 120 };

describe("the soak, short form", () => {
  const lines: string[] = [];
  let run: Soak | null = null;
  afterAll(() => run?.stop());

  it("keeps every report and every node through crashes, sleeps, network faults, a release and an edge kill", async () => {
    run = soak(SHORT, (line) => lines.push(line));
    const results = await run.run();
    const table = formatResults(results);
    console.log(`${lines.join("\n")}\n${table}`);
    const failed = results.checks.filter((c) => !c.ok).map((c) => `${c.invariant}: ${c.value}; ${c.evidence}`);
    expect(failed, table).toEqual([]);
    expect(results.edge_restarts).toBe(1);
    expect(results.events_recorded).toBeGreaterThan(0);
    expect(Object.values(results.faults_injected).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    expect(Object.keys(results.agent_actions).length).toBeGreaterThan(0);
  }, 480_000);
});
