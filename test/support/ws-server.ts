/**
 * A scriptable WebSocket server for the client's own tests (node:http 'upgrade' + the agent's
 * frame parser): it accepts or refuses upgrades as told, records what the client sent and can
 * send raw frames back, including ones the real cloud never would (fragments, pings, garbage).
 */
import { createHash } from "node:crypto";
import { createServer } from "node:http";
import type { IncomingHttpHeaders, Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { FrameParser, OPCODES } from "../../agent/ws-frames.ts";
import type { Frame } from "../../agent/ws-frames.ts";

export type ServerConnection = {
  headers: IncomingHttpHeaders;
  frames: Frame[];
  socket: Socket;
  /** Raw bytes, e.g. from frame(). */
  write(bytes: Buffer): void;
  sendText(text: string): void;
  closed: Promise<void>;
};

export function frame(opcode: number, payload: Buffer | string, fin = true): Buffer {
  const body = typeof payload === "string" ? Buffer.from(payload) : payload;
  if (body.length >= 126) throw new Error("test frames are short");
  return Buffer.concat([Buffer.from([(fin ? 0x80 : 0) | opcode, body.length]), body]);
}

export async function startWsServer(options: {
  /** Return a status to refuse the upgrade with (plus headers/body), or null to accept. */
  refuse?: (headers: IncomingHttpHeaders) => { status: number; headers?: Record<string, string>; body?: string } | null;
  /** Bytes sent together with the 101 response, in the same write. */
  head?: Buffer;
  /** Send a wrong Sec-WebSocket-Accept. */
  badAccept?: boolean;
  /** A real server ends the TCP connection once it has the client's close frame; false: it stays silent. */
  answerClose?: boolean;
} = {}): Promise<{ url: string; connections: ServerConnection[]; close(): Promise<void> }> {
  const connections: ServerConnection[] = [];
  const server: Server = createServer((_request, response) => {
    response.writeHead(426).end();
  });
  server.on("upgrade", (request, socket: Socket) => {
    // First: a client that resets a refused or half-open socket must not crash the test process.
    socket.on("error", () => undefined);
    const refusal = options.refuse?.(request.headers) ?? null;
    if (refusal) {
      const body = refusal.body ?? "";
      const extra = Object.entries(refusal.headers ?? {}).map(([k, v]) => `${k}: ${v}\r\n`).join("");
      socket.end(`HTTP/1.1 ${refusal.status} Refused\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${extra}connection: close\r\n\r\n${body}`);
      return;
    }
    const key = String(request.headers["sec-websocket-key"]);
    const accept = options.badAccept ? "nope" : createHash("sha1").update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest("base64");
    const handshake = Buffer.from(`HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ${accept}\r\n\r\n`);
    socket.write(options.head ? Buffer.concat([handshake, options.head]) : handshake);
    const parser = new FrameParser();
    const connection: ServerConnection = {
      headers: request.headers,
      frames: [],
      socket,
      write: (bytes) => socket.write(bytes),
      sendText: (text) => socket.write(frame(OPCODES.text, text)),
      closed: new Promise((resolve) => socket.once("close", () => resolve())),
    };
    socket.on("data", (chunk: Buffer) => {
      const frames = parser.push(chunk);
      connection.frames.push(...frames);
      if ((options.answerClose ?? true) && frames.some((f) => f.opcode === OPCODES.close)) socket.end();
    });
    connections.push(connection);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/api/node/connect`,
    connections,
    close: () =>
      new Promise((resolve) => {
        for (const c of connections) c.socket.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
