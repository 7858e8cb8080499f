/**
 * fleet_reconnect_s: BENCH_RECONNECT_NODES simulated nodes (default 2,000) hold their sockets to
 * a local edge, the edge is SIGKILLed (its server and workerd, as a crashed host) and started again
 * on the same port and state, and the clock runs until every node has its socket back. Nodes come
 * back as the agent does: the first try at random within the reconnect spread (10 s, the agent's
 * BUHDI_NODE_RECONNECT_SPREAD_MS default), then exponential backoff with full jitter
 * (scripts/soak/sim-fleet.ts). No node may be left out: one that is not back within
 * BENCH_RECONNECT_DEADLINE seconds (default 300) is a failure of the part, not a slow figure.
 *
 *   fleet_reconnect_s           the restarted edge answering /api/health → the last node back
 *   fleet_reconnect_from_kill_s the kill → the last node back (adds the edge's own restart)
 * Upgrades refused while it came back are counted by status; upgrade attempts per node say
 * whether the nodes stampeded (1.0: each came back on its first try).
 */
import { freePort, type LocalEdge } from "../scripts/local-edge.ts";
import { startSimFleet } from "../scripts/soak/sim-fleet.ts";
import { startEdge, stopEdge } from "./edges.ts";
import { raiseFdLimit, type FdLimit } from "./fd-limit.ts";
import { enrollFleet } from "./fleet.ts";
import { log, positiveInt, sleep } from "./settings.ts";

/** The agent's default first-reconnect spread (agent/program/tuning.ts; not imported: Node-side types differ). */
const AGENT_RECONNECT_SPREAD_MS = 10_000;
/** At the real pace: the reconnect is measured, not heartbeat load. */
const HEARTBEAT_MS = 30_000;
const POLL_MS = 250;

export type ReconnectFigures = {
  fleet_reconnect_nodes: number;
  fleet_reconnect_s: number | null;
  fleet_reconnect_from_kill_s: number | null;
  /** Kill → the restarted edge answering /api/health. */
  fleet_reconnect_edge_restart_s: number;
  /** Nodes with a socket when the deadline passed (all of them, or the part failed). */
  fleet_reconnect_back: number;
  /** Upgrade answers other than 101 while the fleet came back, by status. */
  fleet_reconnect_refused: Record<string, number>;
  /** Upgrades tried after the kill per node (1.0: every node back on its first try). */
  fleet_reconnect_attempts_per_node: number;
  fd_limit: FdLimit;
  failures: string[];
};

export async function benchReconnect(): Promise<ReconnectFigures> {
  const nodes = positiveInt("BENCH_RECONNECT_NODES", 2000);
  const deadlineS = positiveInt("BENCH_RECONNECT_DEADLINE", 300);
  const fdLimit = raiseFdLimit();
  const port = await freePort();
  // Direct (Miniflare, no wrangler dev proxy): while the edge restarts a node is refused, as at a
  // Cloudflare location, instead of waiting in wrangler dev's proxy for the Worker to be up.
  let edge: LocalEdge = await startEdge({ port, direct: true });
  const persistDir = edge.persistDir;
  const failures: string[] = [];
  try {
    const enrolled = await enrollFleet(edge, nodes, 32);
    const fleet = startSimFleet(edge.url, enrolled, { heartbeatMs: HEARTBEAT_MS, spreadMs: AGENT_RECONNECT_SPREAD_MS });
    try {
      log(`reconnect: ${nodes} nodes connecting`);
      if (!(await allBack(fleet.connected, nodes, deadlineS))) {
        throw new Error(`reconnect: only ${fleet.connected()} of ${nodes} nodes connected before the kill`);
      }
      const refusedBefore = fleet.refused.length;
      const attemptsBefore = fleet.attempts.count;
      const killedAt = performance.now();
      await edge.kill();
      await stopEdge(edge, { keepState: true }); // forgets the killed one; its state is the next one's
      log("reconnect: edge killed; starting it again on the same port and state");
      edge = await startEdge({ port, persistDir, direct: true });
      const servingAt = performance.now();
      const back = await allBack(fleet.connected, nodes, deadlineS);
      const doneAt = performance.now();
      const refused: Record<string, number> = {};
      for (const r of fleet.refused.slice(refusedBefore)) refused[r.status] = (refused[r.status] ?? 0) + 1;
      if (!back) failures.push(`reconnect: ${nodes - fleet.connected()} of ${nodes} nodes not back within ${deadlineS} s`);
      const figures: ReconnectFigures = {
        fleet_reconnect_nodes: nodes,
        fleet_reconnect_s: back ? round((doneAt - servingAt) / 1000) : null,
        fleet_reconnect_from_kill_s: back ? round((doneAt - killedAt) / 1000) : null,
        fleet_reconnect_edge_restart_s: round((servingAt - killedAt) / 1000),
        fleet_reconnect_back: fleet.connected(),
        fleet_reconnect_refused: refused,
        fleet_reconnect_attempts_per_node: round((fleet.attempts.count - attemptsBefore) / nodes),
        fd_limit: fdLimit,
        failures,
      };
      log(`reconnect: ${JSON.stringify(figures)}`);
      return figures;
    } finally {
      fleet.stop();
    }
  } finally {
    await stopEdge(edge);
  }
}

async function allBack(connected: () => number, total: number, deadlineS: number): Promise<boolean> {
  const until = performance.now() + deadlineS * 1000;
  while (connected() < total) {
    if (performance.now() > until) return false;
    await sleep(POLL_MS);
  }
  return true;
}

const round = (n: number) => Math.round(n * 100) / 100;
