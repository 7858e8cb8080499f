/**
 * The node program proper (for now: its local health endpoint). It deliberately has no 'error'
 * listener on the server: a listen failure such as EADDRINUSE (a zombie node still holding the
 * port, the spec's real bug) must surface as an uncaught exception, so crash capture records it,
 * the process dies with code 1 and the supervisor's restart reports it. Swallowing it here would
 * leave a live process that serves nothing and tells no one.
 */
import { createServer } from "node:http";
import type { Server, ServerResponse } from "node:http";

export const DEFAULT_PORT = 9847;
export const HOST = "127.0.0.1";

export type NodeProgramOptions = {
  port: number;
  nodeId: string;
  version: string;
  startedAt: number;
  onListening?: (url: string) => void;
};

export type Health = { node_id: string; version: string; uptime_s: number };

export function startNodeProgram(options: NodeProgramOptions): Server {
  const server = createServer((request, response) => {
    const url = new URL(request.url ?? "/", `http://${HOST}`);
    if (url.pathname !== "/health") {
      sendJson(response, 404, { error: { code: "not_found", message: `no route ${url.pathname}` } });
      return;
    }
    if (request.method !== "GET" && request.method !== "HEAD") {
      response.setHeader("allow", "GET, HEAD");
      sendJson(response, 405, { error: { code: "method_not_allowed", message: "use GET /health" } });
      return;
    }
    const health: Health = {
      node_id: options.nodeId,
      version: options.version,
      uptime_s: Math.floor((Date.now() - options.startedAt) / 1000),
    };
    sendJson(response, 200, health);
  });
  server.listen(options.port, HOST, () => {
    const address = server.address();
    const port = typeof address === "object" && address !== null ? address.port : options.port;
    options.onListening?.(`http://${HOST}:${port}`);
  });
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
