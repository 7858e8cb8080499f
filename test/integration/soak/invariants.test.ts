/**
 * The soak's rules, each on its own: a healthy run's evidence passes every one, and each kind of
 * damage the soak exists to find fails exactly the rule about it, with the evidence named.
 */
import { describe, expect, it } from "vitest";
import { type AgentEvidence, checkInvariants, type Evidence, rssGrowthPct } from "../../../scripts/soak/invariants.ts";

const T = Date.parse("2026-12-02T12:00:00Z");

function agent(name: string, overrides: Partial<AgentEvidence> = {}): AgentEvidence {
  return {
    name,
    nodeId: `node-${name}`,
    queued: [`${name}-e1`, `${name}-e2`],
    commandRuns: { [`cmd-${name}`]: 1 },
    owed: { spooled: 0, rejected: 0, crashLogBytes: 0 },
    expectRunning: true,
    expectedVersion: "0.3.1",
    view: { status: "online", connected: true, version: "0.3.1" },
    crashedAt: [T],
    verifiedAt: [T + 60_000],
    updateLog: [],
    rss: null,
    ...overrides,
  };
}

function healthy(): Evidence {
  const steady = agent("a1", {
    rss: {
      warm: { at: T, supervisorPid: 10, programPid: 11, supervisorKb: 40_000, programKb: 60_000 },
      end: { at: T + 180_000, supervisorPid: 10, programPid: 11, supervisorKb: 41_000, programKb: 62_000 },
    },
  });
  const stopped = agent("a3", { expectRunning: false, view: { status: "offline", connected: false, version: "0.3.1" } });
  return {
    agents: [steady, agent("a2"), stopped],
    stored: { "a1-e1": 1, "a1-e2": 1, "a2-e1": 1, "a2-e2": 1, "a3-e1": 1, "a3-e2": 1 },
    critical: { stored: 4, untriaged: [] },
    ticketsPerGroup: { g1: 1, g2: 1 },
    escalations: { g1: [{ id: "esc-1", at: T }] },
    escalationPeriodMs: 3_600_000,
    verifyWindowMs: 5_000,
    edgeDown: [{ from: T, to: T + 20_000 }],
    edge5xx: [{ at: T + 1_000, status: 503, seenBy: "proxy" }],
    simFleet: { total: 200, connected: 200 },
  };
}

const failed = (e: Evidence) =>
  checkInvariants(e)
    .filter((c) => !c.ok)
    .map((c) => c.invariant);

describe("the soak's invariants", () => {
  it("a healthy run passes every rule", () => {
    expect(failed(healthy())).toEqual([]);
  });

  it("an event an agent recorded but the cloud never stored is lost, and named", () => {
    const e = healthy();
    delete e.stored["a2-e2"];
    const check = checkInvariants(e).find((c) => c.invariant.startsWith("every event"))!;
    expect(check.ok).toBe(false);
    expect(check.value).toBe("recorded 6, lost 1, duplicated 0");
    expect(check.evidence).toContain("a2-e2 (a2)");
  });

  it("an event stored twice fails the same rule", () => {
    const e = healthy();
    e.stored["a1-e1"] = 2;
    expect(failed(e)).toEqual(["every event an agent recorded is stored exactly once"]);
  });

  it("a spool entry, a refused entry or unreported crash.log bytes left on an agent fail the spool rule", () => {
    for (const owed of [
      { spooled: 1, rejected: 0, crashLogBytes: 0 },
      { spooled: 0, rejected: 1, crashLogBytes: 0 },
      { spooled: 0, rejected: 0, crashLogBytes: 120 },
    ]) {
      const e = healthy();
      e.agents[1]!.owed = owed;
      expect(failed(e)).toEqual(["every spool is empty and every crash reported"]);
    }
  });

  it("a stored crash report that never reached triage fails, and is named", () => {
    const e = healthy();
    e.critical.untriaged = ["t-9"];
    const check = checkInvariants(e).find((c) => c.invariant.startsWith("every stored critical"))!;
    expect([check.ok, check.value, check.evidence]).toEqual([false, "3 of 4", "no triage receipt: t-9"]);
  });

  it("two tickets for one crash group, or a command run twice, each fail their rule", () => {
    const tickets = healthy();
    tickets.ticketsPerGroup.g2 = 2;
    expect(failed(tickets)).toEqual(["no crash group has two tickets"]);
    const commands = healthy();
    commands.agents[0]!.commandRuns["cmd-a1"] = 2;
    expect(failed(commands)).toEqual(["no node ran the same command twice"]);
  });

  it("two escalations of one group within the period fail; a period apart, or one delivered twice, they pass", () => {
    const e = healthy();
    e.escalations.g1 = [
      { id: "esc-1", at: T },
      { id: "esc-2", at: T + 3_599_000 },
    ];
    expect(failed(e)).toEqual(["escalations at most one per crash group per period"]);
    e.escalations.g1 = [
      { id: "esc-1", at: T },
      { id: "esc-2", at: T + 3_600_000 },
    ];
    expect(failed(e)).toEqual([]);
    e.escalations.g1 = [
      { id: "esc-1", at: T },
      { id: "esc-1", at: T + 5_000 },
    ];
    const check = checkInvariants(e).find((c) => c.invariant.startsWith("escalations"))!;
    expect([check.ok, check.value]).toEqual([true, "1 escalations (2 deliveries), 1 groups"]);
  });

  it("a fix verified while the node had crashed inside the window fails", () => {
    const e = healthy();
    e.agents[1]!.verifiedAt = [T + 4_000];
    expect(failed(e)).toEqual(["no fix verified on a node that crashed in its window"]);
  });

  it("a running agent offline or on the old version, and a stopped one shown online, fail their rules", () => {
    const old = healthy();
    old.agents[1]!.view = { status: "online", connected: true, version: "0.3.0" };
    expect(failed(old)).toEqual(["every running agent is online on the version it should run"]);
    const ghost = healthy();
    ghost.agents[2]!.view = { status: "online", connected: true, version: "0.3.1" };
    expect(failed(ghost)).toEqual(["no stopped agent is shown online"]);
  });

  it("a simulated node left disconnected fails", () => {
    const e = healthy();
    e.simFleet.connected = 199;
    expect(failed(e)).toEqual(["every simulated node is connected"]);
  });

  it("a 5xx from the edge outside its restarts fails; inside one it passes", () => {
    const e = healthy();
    e.edge5xx.push({ at: T + 25_000, status: 500, seenBy: "admin /api/nodes" });
    const check = checkInvariants(e).find((c) => c.invariant.startsWith("no 5xx"))!;
    expect(check.ok).toBe(false);
    expect(check.evidence).toContain("500 at 2026-12-02T12:00:25.000Z (admin /api/nodes)");
  });

  it("memory growth past 10 % fails, and growth is counted on the supervisor alone when the program was replaced", () => {
    const e = healthy();
    e.agents[0]!.rss!.end.programKb = 71_000;
    const check = checkInvariants(e).find((c) => c.invariant.startsWith("agent RSS"))!;
    expect([check.ok, check.value]).toEqual([false, "max 12.0 % over 1 steady agents"]);
    expect(check.evidence).toBe("a1: 12.0 % (supervisor 39.1 → 40.0 MB, program 58.6 → 69.3 MB)");
    const replaced = {
      warm: { at: T, supervisorPid: 10, programPid: 11, supervisorKb: 40_000, programKb: 60_000 },
      end: { at: T + 180_000, supervisorPid: 10, programPid: 12, supervisorKb: 42_000, programKb: 90_000 },
    };
    expect(rssGrowthPct(replaced)).toBeCloseTo(5);
  });

  it("memory readings under two minutes apart are reported, not judged (a warming process grows)", () => {
    const e = healthy();
    e.agents[0]!.rss!.end = { ...e.agents[0]!.rss!.end, at: T + 60_000, programKb: 80_000 };
    const check = checkInvariants(e).find((c) => c.invariant.startsWith("agent RSS"))!;
    expect([check.ok, check.value]).toEqual([true, "max 21.0 % over 1 steady agents (not judged: readings 60 s apart, under 120 s)"]);
  });

  it("a run with nothing recorded, no one stopped or no one measured cannot pass", () => {
    const e = healthy();
    for (const a of e.agents) {
      a.queued = [];
      a.expectRunning = true;
      a.rss = null;
    }
    e.agents[2]!.view = { status: "online", connected: true, version: "0.3.1" };
    expect(failed(e)).toEqual([
      "every event an agent recorded is stored exactly once",
      "no stopped agent is shown online",
      "agent RSS at the end within 10 % of warm-up",
    ]);
  });
});
