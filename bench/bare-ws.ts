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
 *
 * With BENCH_BARE_SUPERVISED=1 it is first its own bare supervisor, as `buhdi-node run` is the
 * agent's: it starts this same file as a child with an IPC channel, passes SIGTERM and SIGINT on,
 * and exits when the child does. bench/agent-start.ts uses it to show what two processes cost.
 */
import { spawn } from "node:child_process";
import { NODE_KEY_HEADER } from "../protocol/headers.ts";
import { connectWebSocket } from "../agent/link/ws-client.ts";

if (process.env.BENCH_BARE_SUPERVISED === "1") {
  const child = spawn(process.execPath, process.argv.slice(1), {
    env: { ...process.env, BENCH_BARE_SUPERVISED: "0" },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, () => child.kill(signal));
  child.once("exit", (code) => process.exit(code ?? 1));
} else await connectAndHold();

async function connectAndHold(): Promise<void> {
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
}
