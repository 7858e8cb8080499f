/**
 * The agent's idle baseline: a bare Node 22 process that holds one WebSocket to the edge and
 * does nothing else (Node's global WebSocket, the node key in x-node-key; no heartbeats, no
 * timers, no files). bench/agent-idle.ts starts it with BENCH_EDGE_URL and BENCH_NODE_KEY and
 * measures its RSS next to the agent's. Prints "open" once connected; exits 0 on SIGTERM or
 * SIGINT, 1 if the socket fails or closes.
 */
export {};

const url = process.env.BENCH_EDGE_URL;
const key = process.env.BENCH_NODE_KEY;
if (!url || !key) {
  console.error("bare-ws: set BENCH_EDGE_URL and BENCH_NODE_KEY");
  process.exit(2);
}

// Node's WebSocket (undici) takes headers in its init object; @types/node only knows protocols.
type WithHeaders = new (url: string, init: { headers: Record<string, string> }) => WebSocket;
const ws = new (WebSocket as unknown as WithHeaders)(`${url.replace(/^http/, "ws")}/api/node/connect`, {
  headers: { "x-node-key": key },
});
ws.addEventListener("open", () => console.log("open"));
ws.addEventListener("close", (event) => {
  console.error(`bare-ws: socket closed (${event.code} ${event.reason})`);
  process.exit(1);
});
ws.addEventListener("error", () => {
  console.error("bare-ws: socket error");
  process.exit(1);
});
for (const signal of ["SIGTERM", "SIGINT"] as const) process.once(signal, () => process.exit(0));
