/**
 * agent/program/local-port.ts as it was in 0.3.0, before the zombie fix: a plain listen. When a hung
 * leftover node program still holds the port, the new program dies of EADDRINUSE, and so does
 * every restart (the crash). scripts/demo/releases.ts builds the demo's 0.3.0 as today's
 * agent with this one file swapped in, so the bug is the real code path, not a simulated throw.
 */
import type { Server } from "node:http";
import type { LocalListen } from "../../../agent/program/local-port.ts";

export function listenLocal(server: Server, options: LocalListen): void {
  server.listen(options.port, options.host);
}
