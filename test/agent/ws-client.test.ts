/**
 * The WebSocket client against a real socket (a scripted server): the handshake's three answers
 * (open, refused with a status the node can act on, failed) and an open socket's manners.
 */
import { afterEach, describe, expect, it } from "vitest";
import { connectWebSocket } from "../../agent/ws-client.ts";
import type { CloseInfo, ConnectOutcome, WsConnection } from "../../agent/ws-client.ts";
import { decodeClose, OPCODES } from "../../agent/ws-frames.ts";
import { closedPortUrl } from "../support/helpers.ts";
import { frame, startWsServer } from "../support/ws-server.ts";

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

async function server(options: Parameters<typeof startWsServer>[0] = {}) {
  const started = await startWsServer(options);
  closers.push(started.close);
  return started;
}

function opened(outcome: ConnectOutcome): WsConnection {
  if (outcome.kind !== "open") throw new Error(`expected an open socket, got ${JSON.stringify(outcome)}`);
  return outcome.socket;
}

function listen(socket: WsConnection): { messages: string[]; closed: Promise<CloseInfo> } {
  const messages: string[] = [];
  const closed = new Promise<CloseInfo>((resolve) => socket.start({ onMessage: (text) => messages.push(text), onClose: resolve }));
  return { messages, closed };
}

const until = async (probe: () => boolean, timeoutMs = 2_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

describe("the opening handshake", () => {
  it("sends the node key header and gets an open socket", async () => {
    const s = await server();
    const socket = opened(await connectWebSocket(s.url, { headers: { "x-node-key": "bnk.k" }, timeoutMs: 2_000 }));
    expect(s.connections[0]?.headers["x-node-key"]).toBe("bnk.k");
    expect(s.connections[0]?.headers["sec-websocket-version"]).toBe("13");
    socket.terminate();
  });

  it("a 429 is a refusal with its Retry-After, not an outage", async () => {
    const s = await server({
      refuse: () => ({ status: 429, headers: { "retry-after": "60" }, body: JSON.stringify({ error: { code: "rate_limited", message: "Too many requests" } }) }),
    });
    const outcome = await connectWebSocket(s.url, { headers: {}, timeoutMs: 2_000 });
    expect(outcome).toEqual({ kind: "refused", status: 429, reason: "429: Too many requests", retryAfterMs: 60_000 });
  });

  it("a 401 is a refusal with the server's message", async () => {
    const s = await server({ refuse: () => ({ status: 401, body: JSON.stringify({ error: { code: "node_key_invalid", message: "The node key is not valid" } }) }) });
    expect(await connectWebSocket(s.url, { headers: {}, timeoutMs: 2_000 })).toMatchObject({ kind: "refused", status: 401, reason: "401: The node key is not valid", retryAfterMs: null });
  });

  it("nobody listening is a failure naming the network error", async () => {
    const outcome = await connectWebSocket(`${await closedPortUrl()}/api/node/connect`, { headers: {}, timeoutMs: 2_000 });
    expect(outcome).toMatchObject({ kind: "failed", reason: expect.stringContaining("ECONNREFUSED") });
  });

  it("a server that answers the upgrade with the wrong accept key is not trusted", async () => {
    const s = await server({ badAccept: true });
    expect(await connectWebSocket(s.url, { headers: {}, timeoutMs: 2_000 })).toMatchObject({ kind: "failed", reason: expect.stringContaining("sec-websocket-accept") });
  });
});

describe("an open socket", () => {
  it("keeps a frame that arrived together with the 101 until it is started", async () => {
    const s = await server({ head: frame(OPCODES.text, '{"type":"welcome"}') });
    const socket = opened(await connectWebSocket(s.url, { headers: {}, timeoutMs: 2_000 }));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const { messages } = listen(socket);
    await until(() => messages.length > 0);
    expect(messages).toEqual(['{"type":"welcome"}']);
    socket.terminate();
  });

  it("sends masked text the server can read, and answers a ping with a pong", async () => {
    const s = await server();
    const socket = opened(await connectWebSocket(s.url, { headers: {}, timeoutMs: 2_000 }));
    listen(socket);
    expect(socket.send('{"type":"heartbeat"}')).toBe(true);
    s.connections[0]!.write(frame(OPCODES.ping, "are you there"));
    await until(() => s.connections[0]!.frames.length >= 2);
    expect(s.connections[0]!.frames.map((f) => [f.opcode, f.payload.toString()])).toEqual([
      [OPCODES.text, '{"type":"heartbeat"}'],
      [OPCODES.pong, "are you there"],
    ]);
    socket.terminate();
  });

  it("the server's close frame is echoed and reported with its code and reason", async () => {
    const s = await server();
    const socket = opened(await connectWebSocket(s.url, { headers: {}, timeoutMs: 2_000 }));
    const { closed } = listen(socket);
    const payload = Buffer.concat([Buffer.from([0x0f, 0xa0]), Buffer.from("replaced by a newer connection")]);
    s.connections[0]!.write(frame(OPCODES.close, payload));
    expect(await closed).toEqual({ code: 4000, reason: "replaced by a newer connection" });
    await until(() => s.connections[0]!.frames.some((f) => f.opcode === OPCODES.close));
    expect(decodeClose(s.connections[0]!.frames.find((f) => f.opcode === OPCODES.close)!.payload).code).toBe(4000);
    expect(socket.send("late")).toBe(false);
  });

  it("close() sends a close frame and ends even when the server never answers it", async () => {
    const s = await server({ answerClose: false });
    const socket = opened(await connectWebSocket(s.url, { headers: {}, timeoutMs: 2_000 }));
    const { closed } = listen(socket);
    const started = Date.now();
    await socket.close(1000, "node shutting down");
    expect(Date.now() - started).toBeLessThan(2_000);
    expect((await closed).code).toBe(1006);
    const sent = s.connections[0]!.frames.find((f) => f.opcode === OPCODES.close);
    expect(decodeClose(sent!.payload)).toEqual({ code: 1000, reason: "node shutting down" });
  });

  it("a connection cut without a close frame is reported as 1006", async () => {
    const s = await server();
    const socket = opened(await connectWebSocket(s.url, { headers: {}, timeoutMs: 2_000 }));
    const { closed } = listen(socket);
    s.connections[0]!.socket.destroy();
    expect((await closed).code).toBe(1006);
  });

  it("a protocol violation from the server closes the socket with 1002", async () => {
    const s = await server();
    const socket = opened(await connectWebSocket(s.url, { headers: {}, timeoutMs: 2_000 }));
    const { closed, messages } = listen(socket);
    s.connections[0]!.write(Buffer.from([0xc1, 0x01, 0x61])); // reserved bits set
    await closed;
    expect(messages).toEqual([]);
    const sent = s.connections[0]!.frames.find((f) => f.opcode === OPCODES.close);
    expect(decodeClose(sent!.payload).code).toBe(1002);
  });
});
