/**
 * The WebSocket client against a real socket (a scripted server): the handshake's three answers
 * (open, refused with a status the node can act on, failed), an open socket's manners, and a
 * hostile server: whatever it sends, the socket ends with the right close code and holds no memory.
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterEach, describe, expect, it } from "vitest";
import { MAX_FRAME_BYTES } from "../../../protocol/index.ts";
import { connectWebSocket } from "../../../agent/link/ws-client.ts";
import type { CloseInfo, ConnectOutcome, WsConnection } from "../../../agent/link/ws-client.ts";
import { closedPortUrl } from "../../support/helpers.ts";
import { decodeClose, frame, OPCODES, startWsServer } from "../../support/ws-server.ts";
import type { ServerConnection } from "../../support/ws-server.ts";

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

const until = async (probe: () => boolean, what: string, timeoutMs = 5_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

/** The close frame the client sent, once it has. */
async function closeSent(connection: ServerConnection): Promise<{ code: number; reason: string }> {
  await until(() => connection.frames.some((f) => f.opcode === OPCODES.close), "the client's close frame");
  return decodeClose(connection.frames.find((f) => f.opcode === OPCODES.close)!.payload);
}

async function connected(options: Parameters<typeof startWsServer>[0] = {}) {
  const s = await server(options);
  const socket = opened(await connectWebSocket(s.url, { headers: {}, timeoutMs: 2_000 }));
  await until(() => s.connections.length > 0, "the server to see the connection");
  return { socket, connection: s.connections[0]!, ...listen(socket) };
}

describe("the opening handshake", () => {
  it("sends the node key header and gets an open socket", async () => {
    const s = await server();
    const socket = opened(await connectWebSocket(s.url, { headers: { "x-node-key": "bnk.k" }, timeoutMs: 2_000 }));
    await until(() => s.connections.length > 0, "the server to see the connection");
    expect(s.connections[0]?.headers["x-node-key"]).toBe("bnk.k");
    expect(s.connections[0]?.headers["sec-websocket-version"]).toBe("13");
    socket.terminate();
  });

  it("offers no compression: the cloud's frames are small JSON", async () => {
    const s = await server();
    const socket = opened(await connectWebSocket(s.url, { headers: {}, timeoutMs: 2_000 }));
    await until(() => s.connections.length > 0, "the server to see the connection");
    expect(s.connections[0]?.headers["sec-websocket-extensions"]).toBeUndefined();
    socket.terminate();
  });

  it("a 429 is a refusal with its Retry-After, not an outage", async () => {
    const s = await server({
      refuse: () => ({
        status: 429,
        headers: { "retry-after": "60" },
        body: JSON.stringify({ error: { code: "rate_limited", message: "Too many requests" } }),
      }),
    });
    const outcome = await connectWebSocket(s.url, { headers: {}, timeoutMs: 2_000 });
    expect(outcome).toEqual({ kind: "refused", status: 429, reason: "429: Too many requests", retryAfterMs: 60_000 });
  });

  it("a 401 is a refusal with the server's message", async () => {
    const s = await server({
      refuse: () => ({ status: 401, body: JSON.stringify({ error: { code: "node_key_invalid", message: "The node key is not valid" } }) }),
    });
    expect(await connectWebSocket(s.url, { headers: {}, timeoutMs: 2_000 })).toEqual({
      kind: "refused",
      status: 401,
      reason: "401: The node key is not valid",
      retryAfterMs: null,
    });
  });

  it("a 5xx is a refusal carrying the server's message from its body", async () => {
    const s = await server({
      refuse: () => ({ status: 503, body: JSON.stringify({ error: { code: "unavailable", message: "The edge is restarting" } }) }),
    });
    expect(await connectWebSocket(s.url, { headers: {}, timeoutMs: 2_000 })).toEqual({
      kind: "refused",
      status: 503,
      reason: "503: The edge is restarting",
      retryAfterMs: null,
    });
  });

  it("a 5xx whose body is not the API's error is a refusal named by its status line", async () => {
    const s = await server({ refuse: () => ({ status: 502, body: "<html>Bad gateway</html>" }) });
    expect(await connectWebSocket(s.url, { headers: {}, timeoutMs: 2_000 })).toEqual({
      kind: "refused",
      status: 502,
      reason: "502: Refused",
      retryAfterMs: null,
    });
  });

  it("nobody listening is a failure naming the network error", async () => {
    const outcome = await connectWebSocket(`${await closedPortUrl()}/api/node/connect`, { headers: {}, timeoutMs: 2_000 });
    expect(outcome).toMatchObject({ kind: "failed", reason: expect.stringContaining("ECONNREFUSED") });
  });

  it("a server that never answers the upgrade is a failure once the timeout has passed", async () => {
    const s = await server({ silent: true });
    const started = Date.now();
    const outcome = await connectWebSocket(s.url, { headers: {}, timeoutMs: 300 });
    expect(outcome).toEqual({ kind: "failed", reason: "no answer within 300 ms" });
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("a server that answers the upgrade with the wrong accept key is not trusted", async () => {
    const s = await server({ badAccept: true });
    expect(await connectWebSocket(s.url, { headers: {}, timeoutMs: 2_000 })).toMatchObject({
      kind: "failed",
      reason: expect.stringMatching(/sec-websocket-accept/i),
    });
  });
});

describe("an open socket", () => {
  it("keeps a frame that arrived together with the 101 until it is started", async () => {
    const s = await server({ head: frame(OPCODES.text, '{"type":"welcome"}') });
    const socket = opened(await connectWebSocket(s.url, { headers: {}, timeoutMs: 2_000 }));
    // The frame came in the same chunk as the 101; one turn of the event loop would deliver it.
    await new Promise((resolve) => setImmediate(resolve));
    const { messages } = listen(socket);
    await until(() => messages.length > 0, "the welcome");
    expect(messages).toEqual(['{"type":"welcome"}']);
    socket.terminate();
  });

  it("sends masked text the server can read, and answers a ping with a pong", async () => {
    const { socket, connection } = await connected();
    expect(socket.send('{"type":"heartbeat"}')).toBe(true);
    connection.write(frame(OPCODES.ping, "are you there"));
    await until(() => connection.frames.length >= 2, "the text and the pong");
    expect(connection.frames.map((f) => [f.opcode, f.masked, f.payload.toString()])).toEqual([
      [OPCODES.text, true, '{"type":"heartbeat"}'],
      [OPCODES.pong, true, "are you there"],
    ]);
    socket.terminate();
  });

  it("reads frames that arrive a byte at a time, and several frames in one chunk", async () => {
    const { socket, connection, messages } = await connected();
    const bytes = Buffer.concat([frame(OPCODES.text, '{"type":"welcome"}'), frame(OPCODES.text, '{"type":"heartbeat_ack"}')]);
    for (const byte of bytes) connection.write(Buffer.from([byte]));
    connection.write(bytes);
    await until(() => messages.length >= 4, "four messages");
    expect(messages).toEqual(['{"type":"welcome"}', '{"type":"heartbeat_ack"}', '{"type":"welcome"}', '{"type":"heartbeat_ack"}']);
    socket.terminate();
  });

  it("reassembles a fragmented message, answering a ping between its fragments", async () => {
    const { socket, connection, messages } = await connected();
    connection.write(
      Buffer.concat([
        frame(OPCODES.text, "hel", { fin: false }),
        frame(OPCODES.ping, "mid"),
        frame(OPCODES.continuation, "lo", { fin: false }),
        frame(OPCODES.continuation, "!"),
      ]),
    );
    await until(() => messages.length > 0, "the message");
    expect(messages).toEqual(["hello!"]);
    // The pong was sent before the message was whole, but reaches the server on its own time.
    await until(() => connection.frames.length > 0, "the client's pong");
    expect(connection.frames.map((f) => [f.opcode, f.payload.toString()])).toEqual([[OPCODES.pong, "mid"]]);
    socket.terminate();
  });

  it("the server's close frame is echoed and reported with its code and reason", async () => {
    const { socket, connection, closed } = await connected();
    const payload = Buffer.concat([Buffer.from([0x0f, 0xa0]), Buffer.from("replaced by a newer connection")]);
    connection.write(frame(OPCODES.close, payload));
    expect(await closed).toEqual({ code: 4000, reason: "replaced by a newer connection" });
    expect((await closeSent(connection)).code).toBe(4000);
    expect(socket.send("late")).toBe(false);
  });

  it("close() sends a close frame and ends even when the server never answers it", async () => {
    const { socket, connection, closed } = await connected({ answerClose: false });
    const started = Date.now();
    await socket.close(1000, "node shutting down");
    expect(Date.now() - started).toBeLessThan(2_000);
    expect((await closed).code).toBe(1006);
    expect(await closeSent(connection)).toEqual({ code: 1000, reason: "node shutting down" });
  });

  it("close() cuts a long reason to what fits in a close frame", async () => {
    const { socket, connection } = await connected();
    await socket.close(1000, "x".repeat(300));
    expect(await closeSent(connection)).toEqual({ code: 1000, reason: "x".repeat(123) });
  });

  it("a connection cut without a close frame is reported as 1006", async () => {
    const { connection, closed } = await connected();
    connection.socket.destroy();
    expect((await closed).code).toBe(1006);
  });

  it("a socket dropped before it was started still reports its close once started", async () => {
    const s = await server();
    const socket = opened(await connectWebSocket(s.url, { headers: {}, timeoutMs: 2_000 }));
    socket.terminate();
    await until(() => !socket.isOpen, "the socket to leave the open state");
    const { closed } = listen(socket);
    expect((await closed).code).toBe(1006);
  });

  it("a frame longer than the cloud's frame limit is refused from its header alone (1009)", async () => {
    const { connection, closed, messages } = await connected();
    // A 1 GiB text frame announced in the header; not one byte of its payload follows.
    connection.write(Buffer.from([0x81, 127, 0, 0, 0, 0, 0x40, 0, 0, 0]));
    expect((await closeSent(connection)).code).toBe(1009);
    expect((await closed).code).toBe(1006);
    expect(messages).toEqual([]);
  });

  it("a message at exactly the cloud's frame limit is delivered", async () => {
    const { socket, connection, messages } = await connected();
    connection.write(frame(OPCODES.text, "a".repeat(MAX_FRAME_BYTES)));
    await until(() => messages.length > 0, "the message");
    expect(messages[0]).toHaveLength(MAX_FRAME_BYTES);
    socket.terminate();
  });

  it.each([
    ["a continuation with nothing to continue", frame(OPCODES.continuation, "x")],
    ["reserved bits (no extension was negotiated)", Buffer.from([0xc1, 0x01, 0x61])],
    ["a fragmented control frame", frame(OPCODES.ping, "", { fin: false })],
    ["an unknown opcode", frame(0x3, "x")],
  ])("%s is a protocol error: the client closes with 1002", async (_name, bytes) => {
    const { connection, closed, messages } = await connected();
    connection.write(bytes);
    expect((await closeSent(connection)).code).toBe(1002);
    expect((await closed).code).toBe(1006);
    expect(messages).toEqual([]);
  });
});

/**
 * A compromised or impersonated server (or anything in the path of an http:// edge) sends what
 * the cloud never would. Each case ends the socket with the close code RFC 6455 names, and the
 * heap does not grow: the client stops reading at the violation, and empty fragments cost nothing.
 */
describe("a hostile server", () => {
  /** Heap in use after a full collection; the bound is generous, the old client grew by 48 MB. */
  const HEAP_GROWTH_BOUND = 10 * 1024 * 1024;
  const REPEAT_BYTES = 400 * 1024;

  setFlagsFromString("--expose-gc");
  // The flag makes `gc` available to contexts created from now on; this one predates it.
  const collect = runInNewContext("gc") as () => void;
  const heapUsed = (): number => {
    collect();
    return process.memoryUsage().heapUsed;
  };

  /** `frame` repeated to about `bytes` bytes, for a bounded flood. */
  const repeated = (one: Buffer, bytes: number): Buffer => Buffer.concat(Array.from({ length: Math.ceil(bytes / one.length) }, () => one));

  it("400 KB of empty continuation frames hold no memory, and a message that grows past the frame limit is closed with 1009", async () => {
    const { connection, closed, messages } = await connected();
    const before = heapUsed();
    connection.write(
      Buffer.concat([frame(OPCODES.text, "{", { fin: false }), repeated(frame(OPCODES.continuation, "", { fin: false }), REPEAT_BYTES)]),
    );
    // A ping after the flood: its pong says every empty fragment has been read.
    connection.write(frame(OPCODES.ping, "after the flood"));
    await until(() => connection.frames.some((f) => f.opcode === OPCODES.pong), "the pong after the flood");
    expect(heapUsed() - before).toBeLessThan(HEAP_GROWTH_BOUND);
    // The same message goes on with real fragments, 125 bytes at a time, well past the limit.
    connection.write(repeated(frame(OPCODES.continuation, "a".repeat(125), { fin: false }), 4 * MAX_FRAME_BYTES));
    expect((await closeSent(connection)).code).toBe(1009);
    expect(await closed).toMatchObject({ code: 1006, reason: expect.stringMatching(/payload/i) });
    expect(messages).toEqual([]);
    expect(heapUsed() - before).toBeLessThan(HEAP_GROWTH_BOUND);
  });

  it("a masked frame is a protocol error (1002), and what follows it is not read", async () => {
    const { connection, closed, messages } = await connected();
    const before = heapUsed();
    const masked = frame(OPCODES.text, '{"type":"welcome"}', { mask: Buffer.from([1, 2, 3, 4]) });
    connection.write(repeated(masked, REPEAT_BYTES));
    expect((await closeSent(connection)).code).toBe(1002);
    expect(await closed).toMatchObject({ code: 1006, reason: expect.stringMatching(/mask/i) });
    expect(messages).toEqual([]);
    expect(heapUsed() - before).toBeLessThan(HEAP_GROWTH_BOUND);
  });

  it("a text frame that is not valid UTF-8 is closed with 1007, and what follows it is not read", async () => {
    const { connection, closed, messages } = await connected();
    const before = heapUsed();
    connection.write(repeated(frame(OPCODES.text, Buffer.from([0x7b, 0xff, 0xfe, 0x7d])), REPEAT_BYTES));
    expect((await closeSent(connection)).code).toBe(1007);
    expect(await closed).toMatchObject({ code: 1006, reason: expect.stringMatching(/utf-8/i) });
    expect(messages).toEqual([]);
    expect(heapUsed() - before).toBeLessThan(HEAP_GROWTH_BOUND);
  });
});
