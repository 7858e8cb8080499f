/**
 * What happens to the agents while the soak runs: one action at a time, at random moments, on a
 * random agent that is not one of the steady ones (kept whole for the memory check) and not on
 * an update's trial (a crash there rolls the update back on purpose; the update tests pin that).
 * Crashes are real: SIGKILL and SIGABRT of the node program, and uncaught exceptions thrown
 * inside it, one kind matched by the soak's known issue and one that no known issue matches.
 * Sleeps are real too: the agent stops with going_away (SIGTERM) or without (SIGKILL of
 * supervisor and program), and starts again a few seconds later.
 */
import type { CrashKind, SoakAgent } from "./agents.ts";

export type ActionKind = CrashKind | "sleep_going_away" | "sleep_power_cut";
export type Action = { agent: string; kind: ActionKind; at: number };

const ACTIONS: [ActionKind, number][] = [
  ["SIGKILL", 0.2],
  ["SIGABRT", 0.15],
  ["uncaught_known", 0.2],
  ["uncaught_unknown", 0.15],
  ["sleep_going_away", 0.15],
  ["sleep_power_cut", 0.15],
];

export type Chaos = { actions: Action[]; stop(): Promise<void> };

export function startChaos(
  agents: SoakAgent[],
  options: { everyMs: number; steady: ReadonlySet<string>; random?: () => number; log: (line: string) => void },
): Chaos {
  const random = options.random ?? Math.random;
  const actions: Action[] = [];
  const wakeUps = new Set<Promise<void>>();
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;

  const pick = (): ActionKind => {
    let r = random();
    for (const [kind, chance] of ACTIONS) {
      if (r < chance) return kind;
      r -= chance;
    }
    return "SIGKILL";
  };
  const sleepThenWake = async (agent: SoakAgent, kind: "sleep_going_away" | "sleep_power_cut") => {
    await (kind === "sleep_going_away" ? agent.stop() : agent.powerCut());
    await new Promise((resolve) => setTimeout(resolve, 2_000 + random() * 6_000));
    agent.start();
  };
  const act = async () => {
    const candidates: SoakAgent[] = [];
    for (const agent of agents) {
      if (!options.steady.has(agent.name) && agent.running() && !(await agent.onTrial())) candidates.push(agent);
    }
    const agent = candidates[Math.floor(random() * candidates.length)];
    if (!agent) return;
    const kind = pick();
    if (kind === "sleep_going_away" || kind === "sleep_power_cut") {
      const wake = sleepThenWake(agent, kind).catch((error: unknown) => options.log(`${agent.name}: ${String(error)}`));
      wakeUps.add(wake);
      void wake.finally(() => wakeUps.delete(wake));
      actions.push({ agent: agent.name, kind, at: Date.now() });
    } else if (await agent.crash(kind)) {
      actions.push({ agent: agent.name, kind, at: Date.now() });
    }
  };
  const next = () => {
    if (stopped) return;
    timer = setTimeout(
      () =>
        void act()
          .catch((error: unknown) => options.log(`chaos: ${String(error)}`))
          .finally(next),
      options.everyMs * (0.5 + random()),
    );
  };
  next();
  return {
    actions,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await Promise.all(wakeUps);
    },
  };
}
