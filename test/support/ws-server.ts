/**
 * A scriptable WebSocket server for the client's own tests: node:http's 'upgrade' hands over the
 * raw TCP socket, and the handshake and every frame after it are written by hand. It accepts or
 * refuses upgrades as told, records what the client sent, and can send any bytes back, including
 * what the real cloud never would (fragments, pings, masked frames, invalid UTF-8, garbage).
 */
import { createHash } from "node:crypto";
import { createServer } from "node:http";
import type { IncomingHttpHeaders, Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export const OPCODES = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

/** One frame as the client sent it, unmasked; `masked` says whether it came masked (§5.3: it must). */
export type Frame = { opcode: number; fin: boolean; masked: boolean; payload: Buffer };

/** A frame as a server would send it: unmasked unless a mask is given (which no server may do). */
export function frame(opcode: number, payload: Buffer | string, options: { fin?: boolean; mask?: Buffer } = {}): Buffer {
  const body = typeof payload === "string" ? Buffer.from(payload) : payload;
  if (body.length > 0xffff) throw new Error("test frames are at most 64 KiB");
  const first = ((options.fin ?? true) ? 0x80 : 0) | opcode;
  const maskBit = options.mask ? 0x80 : 0;
  const header =
    body.length < 126
      ? Buffer.from([first, maskBit | body.length])
      : Buffer.from([first, maskBit | 126, body.length >> 8, body.length & 0xff]);
  if (!options.mask) return Buffer.concat([header, body]);
  const mask = options.mask;
  return Buffer.concat([header, mask, Buffer.from(body.map((byte, i) => byte ^ mask[i % 4]!))]);
}

/** A close frame's code and reason (§7.4.1: an empty payload means 1005). */
export function decodeClose(payload: Buffer): { code: number; reason: string } {
  if (payload.length < 2) return { code: 1005, reason: "" };
  return { code: payload.readUInt16BE(0), reason: payload.subarray(2).toString("utf8") };
}

/** Reads the client's frames as bytes arrive. No reassembly: the client never fragments. */
export class ClientFrameReader {
  #buffer = Buffer.alloc(0);

  push(chunk: Buffer): Frame[] {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    const frames: Frame[] = [];
    for (;;) {
      const buf = this.#buffer;
      if (buf.length < 2) return frames;
      const masked = (buf[1]! & 0x80) !== 0;
      let length = buf[1]! & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (buf.length < 4) return frames;
        length = buf.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (buf.length < 10) return frames;
        length = Number(buf.readBigUInt64BE(2));
        offset = 10;
      }
      const mask = masked ? buf.subarray(offset, offset + 4) : null;
      if (masked) offset += 4;
      if (buf.length < offset + length) return frames;
      const payload = Buffer.from(buf.subarray(offset, offset + length));
      if (mask) for (let i = 0; i < payload.length; i += 1) payload[i] = payload[i]! ^ mask[i % 4]!;
      frames.push({ opcode: buf[0]! & 0x0f, fin: (buf[0]! & 0x80) !== 0, masked, payload });
      this.#buffer = buf.subarray(offset + length);
    }
  }
}

export type ServerConnection = {
  headers: IncomingHttpHeaders;
  frames: Frame[];
  socket: Socket;
  /** Raw bytes, e.g. from frame(). */
  write(bytes: Buffer): void;
  sendText(text: string): void;
  closed: Promise<void>;
};

export async function startWsServer(
  options: {
    /** Return a status to refuse the upgrade with (plus headers/body), or null to accept. */
    refuse?: (headers: IncomingHttpHeaders) => { status: number; headers?: Record<string, string>; body?: string } | null;
    /** Bytes sent together with the 101 response, in the same write. */
    head?: Buffer;
    /** Send a wrong Sec-WebSocket-Accept. */
    badAccept?: boolean;
    /** Never answer the upgrade at all (the TCP connection stays open). */
    silent?: boolean;
    /** A real server ends the TCP connection once it has the client's close frame; false: it stays silent. */
    answerClose?: boolean;
  } = {},
): Promise<{ url: string; connections: ServerConnection[]; close(): Promise<void> }> {
  const connections: ServerConnection[] = [];
  const held: Socket[] = [];
  const server: Server = createServer((_request, response) => {
    response.writeHead(426).end();
  });
  server.on("error", () => undefined);
  server.on("upgrade", (request, socket: Socket) => {
    // First: a client that resets a refused or half-open socket must not crash the test process.
    socket.on("error", () => undefined);
    held.push(socket);
    if (options.silent) return;
    const refusal = options.refuse?.(request.headers) ?? null;
    if (refusal) {
      const body = refusal.body ?? "";
      const extra = Object.entries(refusal.headers ?? {})
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join("");
      socket.end(
        `HTTP/1.1 ${refusal.status} Refused\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${extra}connection: close\r\n\r\n${body}`,
      );
      return;
    }
    const key = String(request.headers["sec-websocket-key"]);
    const accept = options.badAccept ? "nope" : createHash("sha1").update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest("base64");
    const handshake = Buffer.from(
      `HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ${accept}\r\n\r\n`,
    );
    socket.write(options.head ? Buffer.concat([handshake, options.head]) : handshake);
    const reader = new ClientFrameReader();
    const connection: ServerConnection = {
      headers: request.headers,
      frames: [],
      socket,
      write: (bytes) => socket.write(bytes),
      sendText: (text) => socket.write(frame(OPCODES.text, text)),
      closed: new Promise((resolve) => socket.once("close", () => resolve())),
    };
    socket.on("data", (chunk: Buffer) => {
      const frames = reader.push(chunk);
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
        for (const socket of held) socket.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
