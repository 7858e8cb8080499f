/**
 * The node program's local HTTP endpoint on 127.0.0.1: GET /health (who, which version, since
 * when, which process, how the cloud connection is) and POST /sleep. A listen failure it cannot
 * fix (local-port.ts takes the port back from a hung leftover of this node; anything else, such
 * as another program on the port) must surface as an uncaught exception, so crash capture
 * records it, the process dies with code 1 and the supervisor's restart reports it. Swallowing
 * it here would leave a live process that serves nothing and tells no one.
 *
 * POST /sleep is for the OS power hook the installer will register (a later issue): Node is not
 * told when the computer is about to sleep, so the hook tells the node, which says going_away
 * "sleep" to the cloud; the node then shows as asleep instead of raising an offline warning.
 * Only processes on this computer can reach it (loopback). A web page could still make the
 * browser POST to 127.0.0.1, so a request that carries an Origin header (every cross-site
 * browser request does; the hook's curl/PowerShell does not) is refused.
 */
import type * as Http from "node:http";
import type { Server, ServerResponse } from "node:http";
import { createRequire } from "node:module";
import { listenLocal } from "./local-port.ts";

// required, not imported: an ESM import of node:http reads every export, and the WebSocket ones
// load undici (about 7 MB per process that nothing here uses).
const { createServer } = createRequire(import.meta.url)("node:http") as typeof Http;

export const DEFAULT_PORT = 9847;
export const HOST = "127.0.0.1";

export type ConnectionHealth = { state: string; connected: boolean; ws_failure_count: number };

export type NodeProgramOptions = {
  port: number;
  nodeId: string;
  version: string;
  startedAt: number;
  /** endpoint.json: read when the port is taken, to recognise a leftover of this node. */
  endpointFile: string;
  log: (message: string) => void;
  onListening?: (url: string) => void;
  /** The cloud connection as /health reports it; absent before the link exists. */
  connection?: () => ConnectionHealth;
  /** Says going_away "sleep"; false when there is no connection to say it on. */
  onSleep?: () => boolean;
};

export type Health = { node_id: string; version: string; uptime_s: number; pid: number; connection: ConnectionHealth | null };

const ROUTES: Record<string, string> = { "/health": "GET, HEAD", "/sleep": "POST" };

export function startNodeProgram(options: NodeProgramOptions): Server {
  const server = createServer((request, response) => {
    const url = new URL(request.url ?? "/", `http://${HOST}`);
    const allowed = ROUTES[url.pathname];
    if (allowed === undefined) {
      sendJson(response, 404, { error: { code: "not_found", message: `no route ${url.pathname}` } });
      return;
    }
    if (!allowed.split(", ").includes(request.method ?? "")) {
      response.setHeader("allow", allowed);
      sendJson(response, 405, { error: { code: "method_not_allowed", message: `use ${allowed.split(", ")[0]} ${url.pathname}` } });
      return;
    }
    // The body (if any) is not needed; drain it so the connection can be reused.
    request.resume();
    if (url.pathname === "/sleep") {
      if (request.headers.origin !== undefined) {
        sendJson(response, 403, { error: { code: "forbidden", message: "not from a web page" } });
        return;
      }
      const sent = options.onSleep?.() ?? false;
      sendJson(
        response,
        sent ? 202 : 503,
        sent
          ? { going_away: "sleep", sent: true }
          : { error: { code: "not_connected", message: "not connected to the cloud; nothing to tell it" } },
      );
      return;
    }
    const health: Health = {
      node_id: options.nodeId,
      version: options.version,
      uptime_s: Math.floor((Date.now() - options.startedAt) / 1000),
      pid: process.pid,
      connection: options.connection?.() ?? null,
    };
    sendJson(response, 200, health);
  });
  server.once("listening", () => {
    const address = server.address();
    const port = typeof address === "object" && address !== null ? address.port : options.port;
    options.onListening?.(`http://${HOST}:${port}`);
  });
  listenLocal(server, { port: options.port, host: HOST, endpointFile: options.endpointFile, log: options.log });
  return server;
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text) });
  response.end(text);
}

export function parsePort(value: string | undefined): number {
  if (value === undefined || value.trim() === "") return DEFAULT_PORT;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`BUHDI_NODE_PORT must be a port number from 0 to 65535, got "${value}"`);
  }
  return port;
}
