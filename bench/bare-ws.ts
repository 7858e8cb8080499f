/**
 * The agent's idle baseline: a bare Node process that holds one WebSocket to the edge and does
 * nothing else (no heartbeats, no timers, no files). bench/agent-idle.ts builds it exactly like
 * the agent (buildAgent from scripts/build-agent.ts: one esbuild file, plain JavaScript) and runs
 * it on the same Node binary with BENCH_EDGE_URL and BENCH_NODE_KEY, next to the agent's bundle.
 *
 * The socket is the agent's own WebSocket client (agent/link/ws-client.ts), not Node's global
 * WebSocket: the baseline then holds the very same kind of socket, so the agent's figure is what
 * it adds on top of that. (Measured idle, the global WebSocket costs the same RSS within 1 MB;
 * what made the old baseline about 13 MB heavier was running it from TypeScript by type stripping.)
 * Prints "open" once connected; exits 0 on SIGTERM or SIGINT, 1 if the socket fails or closes.
 */
import { NODE_KEY_HEADER } from "../protocol/headers.ts";
import { connectWebSocket } from "../agent/link/ws-client.ts";

const url = process.env.BENCH_EDGE_URL;
const key = process.env.BENCH_NODE_KEY;
if (!url || !key) {
  console.error("bare-ws: set BENCH_EDGE_URL and BENCH_NODE_KEY");
  process.exit(2);
}

const outcome = await connectWebSocket(`${url}/api/node/connect`, { headers: { [NODE_KEY_HEADER]: key }, timeoutMs: 15_000 });
if (outcome.kind !== "open") {
  console.error(`bare-ws: could not connect (${outcome.kind === "refused" ? `${outcome.status} ${outcome.reason}` : outcome.reason})`);
  process.exit(1);
}
outcome.socket.start({
  // The edge's frames (welcome, acks) are read and dropped: the baseline does nothing with them.
  onMessage: () => undefined,
  onClose: ({ code, reason }) => {
    console.error(`bare-ws: socket closed (${code} ${reason})`);
    process.exit(1);
  },
});
console.log("open");
for (const signal of ["SIGTERM", "SIGINT"] as const) process.once(signal, () => process.exit(0));
