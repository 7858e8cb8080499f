/**
 * A stand-in for the edge that the update tests script: the real protocol on a real socket
 * (the WebSocket command channel at /api/node/connect, telemetry, heartbeats), and a bundle
 * route whose bytes and behaviour each test chooses — honest, tampered, cut off, endless. The
 * attacks are about what the node does with what it receives, so the server is the attacker.
 * Telemetry is checked against the protocol schema as the edge would (a 400 is recorded).
 */
import { createHash } from "node:crypto";
import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { TelemetryEventSchema } from "../../protocol/index.ts";
import type { TelemetryEvent } from "../../protocol/index.ts";
import { ClientFrameReader, OPCODES } from "./ws-server.ts";

export type Ack = { id: string; status: string; detail?: string };
export type BundleHandler = (request: IncomingMessage, response: ServerResponse) => void;
export type BundleRequest = { url: string; range: string | null; nodeKey: string | null };

/** Unmasked, as a server sends it (§5.1). */
function serverFrame(opcode: number, payload: Buffer): Buffer {
  const length = payload.length;
  const header =
    length < 126
      ? Buffer.from([0x80 | opcode, length])
      : length <= 0xffff
        ? Buffer.from([0x80 | opcode, 126, length >> 8, length & 0xff])
        : (() => {
            const h = Buffer.alloc(10);
            h[0] = 0x80 | opcode;
            h[1] = 127;
            h.writeBigUInt64BE(BigInt(length), 2);
            return h;
          })();
  return Buffer.concat([header, payload]);
}

async function until<T>(probe: () => T | undefined, what: string, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Serves `bytes` the way the edge does: ETag, and `Range: bytes=N-` answered 206 (416 past the end). */
export function honestBundle(bytes: Uint8Array): BundleHandler {
  const etag = `"${createHash("sha256").update(bytes).digest("hex").slice(0, 16)}"`;
  return (request, response) => {
    const range = /^bytes=(\d+)-$/.exec(request.headers.range ?? "");
    if (range) {
      const start = Number(range[1]);
      if (start >= bytes.length) {
        response.writeHead(416, { "content-range": `bytes */${bytes.length}` }).end();
        return;
      }
      response.writeHead(206, {
        "content-type": "application/octet-stream",
        "content-length": String(bytes.length - start),
        "content-range": `bytes ${start}-${bytes.length - 1}/${bytes.length}`,
        etag,
      });
      response.end(Buffer.from(bytes.subarray(start)));
      return;
    }
    response.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(bytes.length), etag });
    response.end(Buffer.from(bytes));
  };
}

export async function startFakeCloud(nodeId: string) {
  const telemetry: TelemetryEvent[] = [];
  const refusedTelemetry: unknown[] = [];
  const acks: Ack[] = [];
  const bundleRequests: BundleRequest[] = [];
  const sockets: Socket[] = [];
  let live: Socket | null = null;
  let bundle: BundleHandler = (_request, response) => response.writeHead(404).end();

  const server: Server = createServer((request, response) => {
    const url = request.url ?? "";
    if (request.method === "GET" && /^\/api\/node\/releases\/[^/]+\/bundle$/.test(url)) {
      const nodeKey = request.headers["x-node-key"];
      bundleRequests.push({ url, range: request.headers.range ?? null, nodeKey: typeof nodeKey === "string" ? nodeKey : null });
      bundle(request, response);
      return;
    }
    let body = "";
    request.on("data", (d: Buffer) => (body += d.toString()));
    request.on("end", () => {
      if (request.method === "POST" && url === "/api/node/telemetry") {
        const parsed = TelemetryEventSchema.safeParse(JSON.parse(body));
        if (!parsed.success) {
          refusedTelemetry.push(JSON.parse(body));
          response
            .writeHead(400, { "content-type": "application/json" })
            .end(JSON.stringify({ error: { code: "invalid", message: parsed.error.message } }));
          return;
        }
        const duplicate = telemetry.some((e) => e.event_id === parsed.data.event_id);
        if (!duplicate) telemetry.push(parsed.data);
        response
          .writeHead(duplicate ? 200 : 202, { "content-type": "application/json" })
          .end(JSON.stringify({ id: parsed.data.event_id, severity: "info" }));
        return;
      }
      if (request.method === "POST" && url === "/api/node/heartbeat") {
        response.writeHead(200, { "content-type": "application/json" }).end("{}");
        return;
      }
      response.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: { code: "not_found", message: url } }));
    });
  });

  server.on("upgrade", (request, socket: Socket) => {
    const accept = createHash("sha1")
      .update(`${String(request.headers["sec-websocket-key"])}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
      .digest("base64");
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ${accept}\r\n\r\n`,
    );
    sockets.push(socket);
    live = socket;
    const send = (frame: unknown) => socket.write(serverFrame(OPCODES.text, Buffer.from(JSON.stringify(frame))));
    send({ type: "welcome", node_id: nodeId, heartbeat_interval_s: 30 });
    const parser = new ClientFrameReader();
    socket.on("data", (chunk: Buffer) => {
      for (const frame of parser.push(chunk)) {
        if (frame.opcode === OPCODES.close) {
          socket.end(serverFrame(OPCODES.close, frame.payload.subarray(0, 2)));
          continue;
        }
        if (frame.opcode === OPCODES.ping) {
          socket.write(serverFrame(OPCODES.pong, frame.payload));
          continue;
        }
        if (frame.opcode !== OPCODES.text) continue;
        const message = JSON.parse(frame.payload.toString("utf8")) as { type: string } & Record<string, unknown>;
        if (message.type === "command_ack") acks.push(message as unknown as Ack);
        if (message.type === "heartbeat") send({ type: "heartbeat_ack", at: new Date().toISOString() });
      }
    });
    socket.on("close", () => {
      if (live === socket) live = null;
    });
    socket.on("error", () => undefined);
  });

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    telemetry,
    refusedTelemetry,
    acks,
    bundleRequests,
    serveBundle(handler: BundleHandler) {
      bundle = handler;
    },
    /** Sends a command on the node's socket (waiting for one) and returns its id. */
    async sendCommand(payload: unknown, options: { id?: string; command?: string; expiresAt?: string } = {}): Promise<string> {
      const socket = await until(() => live ?? undefined, "the node to connect", 20_000);
      const id = options.id ?? crypto.randomUUID();
      const frame = {
        type: "command",
        id,
        command: options.command ?? "SOFTWARE_UPDATE",
        payload,
        expires_at: options.expiresAt ?? new Date(Date.now() + 3_600_000).toISOString(),
      };
      socket.write(serverFrame(OPCODES.text, Buffer.from(JSON.stringify(frame))));
      return id;
    },
    waitForAck(id: string, timeoutMs = 20_000): Promise<Ack> {
      return until(() => acks.find((a) => a.id === id), `the ack of command ${id}`, timeoutMs);
    },
    waitForTelemetry(match: (event: TelemetryEvent) => boolean, what: string, timeoutMs = 20_000): Promise<TelemetryEvent> {
      return until(() => telemetry.find(match), what, timeoutMs);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export type FakeCloud = Awaited<ReturnType<typeof startFakeCloud>>;
