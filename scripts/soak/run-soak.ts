/**
 * The soak (`npm run soak`, and its short form in the tests): the local edge, the fault proxy,
 * real agents and simulated nodes, run together while things go wrong, then a quiet period for
 * recovery and the invariants (invariants.ts) checked from the agents' own files and the edge's
 * API. In order:
 *   1. set up, faults off: edge, proxy, webhook receiver, release 0.3.1 (built and signed for
 *      this run), a known issue that matches part of the crashes, agents on 0.3.0, simulated nodes;
 *   2. chaos with faults on: agents crash and sleep (chaos.ts), 0.3.1 is pushed to every agent,
 *      and the edge is SIGKILLed and started again on the same port and state, `edgeKills` times;
 *   3. faults off, every agent running: wait (bounded) until the agents have delivered what they
 *      owe and run 0.3.1; then two agents stop for good, one with going_away and one without;
 *   4. wait out the offline grace, collect the evidence, check.
 * Every process it starts is stopped at the end, also after a failure or Ctrl-C (stop()).
 */
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { d1Query } from "../../bench/d1-local.ts";
import { enrollFleet, type EnrolledNode } from "../../bench/fleet.ts";
import { buildAgent } from "../build-agent.ts";
import { publish } from "../demo/releases.ts";
import { startWebhookReceiver } from "../demo/webhook-receiver.ts";
import { freePort, type LocalEdge, scheduledUrl, startLocalEdge } from "../local-edge.ts";
import { newReleaseKey, trustedKeysVar } from "../release-key.ts";
import { enroll, KNOWN_CRASH, type SoakAgent, soakAgent } from "./agents.ts";
import { type Action, startChaos } from "./chaos.ts";
import { FAULT_KINDS, startFaultProxy } from "./fault-proxy.ts";
import { type AgentEvidence, type Check, checkInvariants, type Evidence, maxRssGrowthPct, type RssSample } from "./invariants.ts";
import { startSimFleet } from "./sim-fleet.ts";

export type SoakSettings = {
  /** How long the faults and crashes go on. */
  seconds: number;
  agents: number;
  /** Agents never crashed or stopped: their memory is compared at warm-up and at the end. */
  steadyAgents: number;
  simNodes: number;
  edgeKills: number;
  /** Mean time between two actions on the agents. */
  actionEveryMs: number;
  /** The longest the recovery may take before the check (it ends as soon as all is delivered). */
  recoverySeconds: number;
};

export const SOAK_DEFAULTS: SoakSettings = {
  seconds: 300,
  agents: 20,
  steadyAgents: 4,
  simNodes: 2000,
  edgeKills: 2,
  actionEveryMs: 1_500,
  recoverySeconds: 120,
};

export type SoakResults = {
  settings: SoakSettings;
  seconds_total: number;
  /** How long faults were on: the settings' seconds, or more if an edge restart outlasted them. */
  faults_s: number;
  events_recorded: number;
  events_stored: number;
  events_lost: number;
  events_duplicated: number;
  faults_injected: Record<string, number>;
  agent_actions: Record<string, number>;
  edge_restarts: number;
  edge_restart_s: number[];
  max_agent_rss_growth_pct: number;
  sim_reconnects: number;
  checks: Check[];
  ok: boolean;
};

const FROM = "0.3.0";
const TO = "0.3.1";
/**
 * The edge's clocks: 2 s heartbeats, offline after 8 s of silence, a fix verified after 5 s of
 * health, a critical report with no triage receipt queued again after 10 s (by the cron the soak
 * runs every poll of its recovery, as Cloudflare runs it every 5 minutes).
 */
const EDGE_VARS = {
  HEARTBEAT_INTERVAL_SECONDS: "2",
  OFFLINE_GRACE_SECONDS: "8",
  VERIFY_HEALTHY_SECONDS: "5",
  TRIAGE_REQUEUE_AFTER_SECONDS: "10",
};
const GRACE_MS = 8_000;
/** The cron trigger of worker/triage/requeue-untriaged.ts (wrangler.toml); a drift fails the triage check. */
const REQUEUE_CRON = "*/5 * * * *";
/** After the edge serves again, its sockets and queue settle; a 5xx in this time still counts as the restart's. */
const SETTLE_AFTER_RESTART_MS = 5_000;
/** A restart's bound (a first start keeps local-edge.ts's 90 s). */
const RESTART_WITHIN_MS = 240_000;
/** Memory readings (one per 2 s) whose peak stands for "after warm-up" and for "at the end". */
const RSS_WINDOW = 5;

export type Soak = { run(): Promise<SoakResults>; stop(): Promise<void> };

export function soak(settings: SoakSettings, log: (line: string) => void): Soak {
  const cleanups: Array<() => Promise<void> | void> = [];
  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      for (const cleanup of cleanups.reverse()) await Promise.resolve(cleanup()).catch(() => undefined);
    })());
  // A failed soak keeps its directory (agents' homes and logs, the edge's state) for a look.
  const state = { keep: false };
  const run = () =>
    runSoak(settings, log, cleanups, state)
      .then(
        (results) => {
          state.keep = !results.ok;
          return results;
        },
        (error: unknown) => {
          state.keep = true;
          throw error;
        },
      )
      .finally(stop);
  return { run, stop };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function runSoak(
  settings: SoakSettings,
  log: (line: string) => void,
  cleanups: Array<() => Promise<void> | void>,
  state: { keep: boolean },
): Promise<SoakResults> {
  const started = Date.now();
  const elapsed = () => `${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s`;
  const say = (line: string) => log(`[${elapsed()}] ${line}`);
  const dir = await mkdtemp(path.join(tmpdir(), "buhdi-soak-"));
  cleanups.push(() =>
    state.keep
      ? log(`kept for a look: ${dir} (agents' homes with agent.log, the edge's state)`)
      : rm(dir, { recursive: true, force: true }),
  );

  // 1. Set up.
  const key = newReleaseKey();
  const secret = randomBytes(24).toString("base64url");
  const receiver = await startWebhookReceiver(secret);
  cleanups.push(() => receiver.close());
  const port = await freePort();
  const persistDir = path.join(dir, "edge");
  const adminToken = randomBytes(24).toString("base64url");
  const vars = {
    ...EDGE_VARS,
    RELEASE_PUBLIC_KEYS: trustedKeysVar([key]),
    ESCALATION_WEBHOOK_URL: receiver.url,
    ESCALATION_WEBHOOK_SECRET: secret,
  };
  // A restart on this machine shares its cores with every agent and simulated node knocking at
  // once, and wakes each node's object for its overdue alarm: it takes far longer than a start.
  const startEdge = (serveWithinMs?: number) => startLocalEdge({ port, persistDir, adminToken, vars, serveWithinMs, direct: true });
  const bundle = buildAgent({ version: TO, outDir: path.join(dir, "releases") });
  bundle.catch(() => undefined); // awaited below; a failed build must not crash the process meanwhile
  let edge: LocalEdge = await startEdge();
  cleanups.push(() => edge.stop());
  const edgeDown: Evidence["edgeDown"] = [];
  const edge5xx: Evidence["edge5xx"] = [];
  say(`local edge on ${edge.url}`);

  const admin = async <T>(pathname: string, body?: unknown): Promise<T> => {
    const response = await fetch(`${edge.url}${pathname}`, {
      method: body === undefined ? "GET" : "POST",
      headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status >= 500) edge5xx.push({ at: Date.now(), status: response.status, seenBy: `admin ${pathname}` });
    const text = await response.text();
    if (!response.ok) throw new Error(`${pathname}: ${response.status} ${text}`);
    return JSON.parse(text) as T;
  };
  /** An admin call made during the chaos: the edge may be restarting, so it is tried again for a while. */
  const adminPatiently = async <T>(pathname: string, body?: unknown): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await admin<T>(pathname, body);
      } catch (error) {
        if (attempt >= 60) throw error;
        await sleep(1_000);
      }
    }
  };

  const proxy = await startFaultProxy(edge.url);
  cleanups.push(() => proxy.close());
  await publish(edge, key, TO, (await bundle).file);
  const known = await admin<{ id: string }>("/api/admin/known-issues", {
    pattern: KNOWN_CRASH.split(":")[0],
    description: "The soak's known crash, fixed in 0.3.1",
    fix_type: "update",
    fix_version: TO,
    auto_resolve: true,
  });
  say(`release ${TO} signed and published; known issue ${known.id} matches "${KNOWN_CRASH.split(":")[0]}"`);

  const owner = await admin<{ owner_id: string }>("/api/admin/owners", { email: `soak-${Date.now()}@example.com`, name: "Soak" });
  const agents: SoakAgent[] = [];
  const env = { BUHDI_NODE_TRUSTED_KEYS: trustedKeysVar([key]) };
  await Promise.all(
    Array.from({ length: 4 }, async (_, worker) => {
      for (let i = worker; i < settings.agents; i += 4) {
        const name = `agent-${String(i + 1).padStart(2, "0")}`;
        const home = path.join(dir, "homes", name);
        await mkdir(home, { recursive: true });
        const { code } = await admin<{ code: string }>("/api/admin/enrollments", { owner_id: owner.owner_id, node_name: name });
        agents[i] = soakAgent(name, home, await enroll(home, code, proxy.url), env);
      }
    }),
  );
  cleanups.push(() => Promise.all(agents.map((a) => a.powerCut())).then(() => undefined));
  const simNodes: EnrolledNode[] = settings.simNodes > 0 ? await enrollFleet(edge, settings.simNodes, 16) : [];
  say(`${agents.length} agents enrolled through the proxy, ${simNodes.length} simulated nodes enrolled`);

  // The agents first, then the simulated nodes, spread over 20 s per 1,000 (and so is their
  // reconnect after an edge kill: all 2,000 back within 1-16 s left the restarted local workerd
  // out of file descriptors, see docs/soak.md).
  for (const agent of agents) agent.start();
  await until("every agent online on 0.3.0", 180_000, async () => {
    const views = await Promise.all(agents.map((a) => nodeView(admin, a.nodeId)));
    return views.every((v) => v?.status === "online" && v.version === FROM);
  });
  const sim = startSimFleet(edge.url, simNodes, { heartbeatMs: 5_000, spreadMs: Math.max(1_000, simNodes.length * 20) });
  cleanups.push(() => sim.stop());
  await until("every simulated node connected", 180_000, async () => sim.connected() === sim.total);
  say(`every agent online on ${FROM}; ${sim.connected()} of ${sim.total} simulated nodes connected`);

  // 2. Chaos.
  const steady = new Set(agents.slice(0, settings.steadyAgents).map((a) => a.name));
  const chaosStarted = Date.now();
  const chaosEnds = chaosStarted + settings.seconds * 1000;
  proxy.faultsOn(true);
  const chaos = startChaos(agents, { everyMs: settings.actionEveryMs, steady, log: say });
  cleanups.push(() => chaos.stop());
  say(`faults on for ${settings.seconds} s: crashes and sleeps on ${agents.length - steady.size} agents, ${steady.size} kept steady`);

  const edgeRestartS: number[] = [];
  const at = (fraction: number) => chaosStarted + fraction * settings.seconds * 1000;
  // Memory of the steady agents every 2 s; compared as the peak of the first 5 readings from mid-run
  // on and of the last 5 (peaks, so a GC that happened to run just before one reading does not decide).
  const rssSamples = new Map<string, { at: number; sample: RssSample }[]>();
  const sampler = setInterval(() => {
    for (const agent of agents.filter((a) => steady.has(a.name))) {
      void agent.rss().then((sample) => {
        if (sample) rssSamples.set(agent.name, [...(rssSamples.get(agent.name) ?? []), { at: Date.now(), sample }]);
      });
    }
  }, 2_000);
  cleanups.push(() => clearInterval(sampler));
  const warmFrom = at(0.5);
  const timeline: { at: number; what: string; run: () => Promise<void> }[] = [
    {
      at: at(0.15),
      what: `push ${TO}`,
      run: async () => {
        await adminPatiently(`/api/admin/releases/${TO}/push`, { node_ids: agents.map((a) => a.nodeId) });
        say(`${TO} pushed to every agent`);
      },
    },
    ...Array.from({ length: settings.edgeKills }, (_, k) => ({
      at: at((k + 1) / (settings.edgeKills + 1)),
      what: `edge kill ${k + 1}`,
      run: async () => {
        const from = Date.now();
        await edge.kill();
        say(`edge killed (SIGKILL of the edge server and its workerd), restart ${k + 1} of ${settings.edgeKills}`);
        edge = await startEdge(RESTART_WITHIN_MS);
        const seconds = (Date.now() - from) / 1000;
        edgeRestartS.push(Number(seconds.toFixed(1)));
        edgeDown.push({ from, to: Date.now() + SETTLE_AFTER_RESTART_MS });
        say(`edge serving again after ${seconds.toFixed(1)} s, same port and state`);
      },
    })),
  ].sort((a, b) => a.at - b.at);
  // Steps start on time and run one after another (a kill waits for the previous restart), while
  // the chaos goes on; a failed step ends the soak once the chaos is over.
  const trouble: { error: Error | null } = { error: null };
  let steps = Promise.resolve();
  for (const step of timeline) {
    await sleep(Math.max(0, step.at - Date.now()));
    steps = steps.then(() =>
      trouble.error
        ? undefined
        : step.run().catch((error: unknown) => {
            trouble.error = new Error(`${step.what}: ${error instanceof Error ? error.message : String(error)}`);
          }),
    );
  }
  await sleep(Math.max(0, chaosEnds - Date.now()));
  await steps;
  if (trouble.error) throw trouble.error;
  await chaos.stop();
  proxy.faultsOn(false);
  // Longer than asked when an edge restart was still under way at the planned end.
  const faultsS = Math.round((Date.now() - chaosStarted) / 1000);
  for (const agent of agents) agent.start();
  say(`faults off after ${faultsS} s and ${chaos.actions.length} actions on agents; every agent running again`);

  // 3. Recovery, then two agents stop for good.
  const owedNothing = async () => {
    await fetch(scheduledUrl(edge.url, REQUEUE_CRON)).catch(() => undefined);
    const owed = await Promise.all(agents.map((a) => a.owed()));
    const views = await Promise.all(agents.map((a) => nodeView(admin, a.nodeId)));
    return (
      owed.every((o) => o.spooled + o.rejected + o.crashLogBytes === 0) &&
      views.every((v) => v?.status === "online" && v.version === TO) &&
      sim.connected() === sim.total
    );
  };
  const recovered = await until("recovery", settings.recoverySeconds * 1000, owedNothing).then(
    () => true,
    () => false,
  );
  say(
    recovered
      ? "every agent delivered what it owed and runs 0.3.1; every simulated node is connected"
      : `not recovered within ${settings.recoverySeconds} s; checking anyway`,
  );
  clearInterval(sampler);
  const sleepers = agents.filter((a) => !steady.has(a.name)).slice(-2);
  await sleepers[0]?.stop();
  await sleepers[1]?.powerCut();
  say(`${sleepers.map((a) => a.name).join(" and ")} stopped for good (going_away / power cut); waiting out the ${GRACE_MS / 1000} s grace`);
  await sleep(GRACE_MS + 4_000);

  // 4. Evidence.
  const stored: Record<string, number> = {};
  const evidence: AgentEvidence[] = [];
  for (const agent of agents) {
    for (const item of await allTelemetry(admin, agent.nodeId)) {
      const id = item.payload.event_id;
      if (id) stored[id] = (stored[id] ?? 0) + 1;
    }
    const text = await agent.log();
    const commandRuns: Record<string, number> = {};
    for (const m of text.matchAll(/^buhdi-node: command (\S+) \(\w+\): (?:done|failed|rejected)\b/gm)) {
      commandRuns[m[1]!] = (commandRuns[m[1]!] ?? 0) + 1;
    }
    const resolutions = await admin<{ items: { state: string; verified_at: string | null }[] }>(
      `/api/support/resolutions?node_id=${agent.nodeId}&limit=200`,
    );
    const samples = rssSamples.get(agent.name) ?? [];
    const warm = peak(samples.filter((x) => x.at >= warmFrom).slice(0, RSS_WINDOW));
    const end = peak(samples.slice(-RSS_WINDOW));
    evidence.push({
      name: agent.name,
      nodeId: agent.nodeId,
      queued: [...text.matchAll(/^buhdi-node: queued \S+ (\S+) for the cloud$/gm)].map((m) => m[1]!),
      commandRuns,
      owed: await agent.owed(),
      expectRunning: !sleepers.includes(agent),
      expectedVersion: TO,
      view: await nodeView(admin, agent.nodeId),
      crashedAt: chaos.actions.filter((a) => a.agent === agent.name && !a.kind.startsWith("sleep")).map((a) => a.at),
      updateLog: text.split("\n").filter((line) => /SOFTWARE_UPDATE|install|roll|0\.3\.1/.test(line)),
      verifiedAt: resolutions.items.filter((r) => r.state === "verified" && r.verified_at).map((r) => Date.parse(r.verified_at!)),
      rss: warm && end ? { warm, end } : null,
    });
  }
  const tickets = await admin<{ items: { crash_group_id: string }[] }>("/api/support/tickets?limit=200");
  const ticketsPerGroup: Record<string, number> = {};
  for (const t of tickets.items) ticketsPerGroup[t.crash_group_id] = (ticketsPerGroup[t.crash_group_id] ?? 0) + 1;
  const escalations: Evidence["escalations"] = {};
  for (const d of receiver.deliveries) {
    const group = d.body?.crash_group.id ?? "unreadable";
    escalations[group] = [...(escalations[group] ?? []), { id: String(d.body?.id ?? d.raw), at: d.at }];
  }
  for (const answer of proxy.edgeAnswers) if (answer.status >= 500) edge5xx.push({ ...answer, seenBy: "proxy (agent traffic)" });
  for (const refused of sim.refused) if (refused.status >= 500) edge5xx.push({ ...refused, seenBy: "simulated node upgrade" });
  const simConnected = sim.connected();
  sim.stop();
  // Read from the local D1 itself once the edge is stopped (no two processes write its file at once).
  await edge.stop();
  const critical = await d1Query<{ id: string; triaged: number }>(
    persistDir,
    "SELECT t.id, r.telemetry_id IS NOT NULL AS triaged FROM node_telemetry t LEFT JOIN triage_receipts r ON r.telemetry_id = t.id WHERE t.severity = 'critical'",
  );
  const checks = checkInvariants({
    agents: evidence,
    stored,
    critical: { stored: critical.length, untriaged: critical.filter((row) => !row.triaged).map((row) => row.id) },
    ticketsPerGroup,
    escalations,
    escalationPeriodMs: 3_600_000,
    verifyWindowMs: Number(EDGE_VARS.VERIFY_HEALTHY_SECONDS) * 1000,
    edgeDown,
    edge5xx,
    simFleet: { total: sim.total, connected: simConnected },
  });
  const recorded = evidence.flatMap((a) => a.queued);
  const agentActions: Record<string, number> = {};
  for (const action of chaos.actions as Action[]) agentActions[action.kind] = (agentActions[action.kind] ?? 0) + 1;
  return {
    settings,
    seconds_total: Math.round((Date.now() - started) / 1000),
    faults_s: faultsS,
    events_recorded: recorded.length,
    events_stored: recorded.filter((id) => stored[id]).length,
    events_lost: recorded.filter((id) => !stored[id]).length,
    events_duplicated: Object.values(stored).filter((n) => n > 1).length,
    faults_injected: Object.fromEntries(FAULT_KINDS.map((k) => [k, proxy.injected[k]])),
    agent_actions: agentActions,
    edge_restarts: edgeRestartS.length,
    edge_restart_s: edgeRestartS,
    max_agent_rss_growth_pct: Number(maxRssGrowthPct(evidence).toFixed(1)),
    sim_reconnects: sim.reconnects.count,
    checks,
    ok: checks.every((c) => c.ok),
  };
}

/** The reading with the most memory in all. */
function peak(samples: { sample: RssSample }[]): RssSample | undefined {
  return samples.map((x) => x.sample).sort((a, b) => b.supervisorKb + b.programKb - (a.supervisorKb + a.programKb))[0];
}

type NodeView = { status: string; connected: boolean; version: string | null };

async function nodeView(admin: <T>(pathname: string) => Promise<T>, nodeId: string): Promise<NodeView | null> {
  return admin<NodeView>(`/api/nodes/${nodeId}`).catch(() => null);
}

type TelemetryItem = { payload: { event_id?: string } };

async function allTelemetry(admin: <T>(pathname: string) => Promise<T>, nodeId: string): Promise<TelemetryItem[]> {
  const items: TelemetryItem[] = [];
  let cursor: string | null = null;
  do {
    const page: { items: TelemetryItem[]; next_cursor: string | null } = await admin(
      `/api/node/telemetry?node_id=${nodeId}&limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
    );
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return items;
}

/** Polls `ok` every second until it holds; throws after `ms`. Errors count as "not yet". */
async function until(what: string, ms: number, ok: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await ok().catch(() => false)) return;
    await sleep(1_000);
  }
  throw new Error(`${what} did not happen within ${ms / 1000} s`);
}
