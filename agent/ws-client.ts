/**
 * A small WebSocket client over node:http/https: the opening handshake, and one open socket that
 * sends text, answers pings and closes cleanly. It exists so a refused upgrade is an answer the
 * node can act on (401 = the key, 429 = wait Retry-After, 5xx = the cloud) instead of the bare
 * "error" event Node's global WebSocket gives; the bytes on the wire are in ws-frames.ts.
 */
import { createHash, randomBytes } from "node:crypto";
import type * as Http from "node:http";
import type * as Https from "node:https";
import { createRequire } from "node:module";
import type { Socket } from "node:net";
import { parseRetryAfter } from "./backoff.ts";
import { FrameError, FrameParser, OPCODES, decodeClose, encodeClose, encodeFrame } from "./ws-frames.ts";

/**
 * node:http and node:https are required when a connection is made, never imported. An ESM
 * import of a built-in reads every one of its exports to build the module's namespace, and
 * node:http's exports include WebSocket, CloseEvent and MessageEvent (Node 22), whose getters
 * load undici: 6 to 10 MB of resident memory in a process that never uses them. In the release
 * bundle an import would also be hoisted to the top of the one file, and so land in the
 * supervisor, which makes no connections at all.
 */
const loadBuiltin = createRequire(import.meta.url);

const HANDSHAKE_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/** How long a close handshake may take before the socket is simply dropped. */
const CLOSE_TIMEOUT_MS = 1_000;

export type ConnectOutcome =
  | { kind: "open"; socket: WsConnection }
  /** The server answered the upgrade with an HTTP status instead of 101. */
  | { kind: "refused"; status: number; reason: string; retryAfterMs: number | null }
  /** No answer: network down, DNS, timeout, or a broken handshake. */
  | { kind: "failed"; reason: string };

export type CloseInfo = { code: number; reason: string };

export type ConnectOptions = {
  headers: Record<string, string>;
  timeoutMs: number;
  now?: () => number;
};

/** http(s)://host/path → the same URL; ws(s):// is accepted too. The upgrade is plain HTTP(S). */
function httpUrl(url: string): URL {
  const target = new URL(url);
  if (target.protocol === "ws:") target.protocol = "http:";
  if (target.protocol === "wss:") target.protocol = "https:";
  return target;
}

export function connectWebSocket(url: string, options: ConnectOptions): Promise<ConnectOutcome> {
  const target = httpUrl(url);
  const key = randomBytes(16).toString("base64");
  const expectedAccept = createHash("sha1").update(key + HANDSHAKE_GUID).digest("base64");
  const client = target.protocol === "https:"
    ? (loadBuiltin("node:https") as typeof Https)
    : (loadBuiltin("node:http") as typeof Http);
  const now = options.now ?? Date.now;

  return new Promise((resolve) => {
    let settled = false;
    const settle = (outcome: ConnectOutcome): void => {
      if (settled) {
        if (outcome.kind === "open") outcome.socket.terminate();
        return;
      }
      settled = true;
      clearTimeout(timer);
      resolve(outcome);
    };
    const request = client.request(target, {
      method: "GET",
      agent: false,
      headers: {
        ...options.headers,
        connection: "Upgrade",
        upgrade: "websocket",
        "sec-websocket-version": "13",
        "sec-websocket-key": key,
      },
    });
    const timer = setTimeout(() => {
      request.destroy();
      settle({ kind: "failed", reason: `no answer within ${options.timeoutMs} ms` });
    }, options.timeoutMs);

    request.on("upgrade", (response, socket: Socket, head: Buffer) => {
      if (response.headers["sec-websocket-accept"] !== expectedAccept) {
        socket.destroy();
        settle({ kind: "failed", reason: "the server's handshake did not match (sec-websocket-accept)" });
        return;
      }
      settle({ kind: "open", socket: new WsConnection(socket, head) });
    });
    request.on("response", (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => {
        if (body.length < 4096) body += chunk;
      });
      response.on("end", () => {
        const status = response.statusCode ?? 0;
        const retryAfter = response.headers["retry-after"];
        settle({
          kind: "refused",
          status,
          reason: `${status}: ${errorMessage(body) ?? response.statusMessage ?? "refused"}`,
          retryAfterMs: parseRetryAfter(typeof retryAfter === "string" ? retryAfter : null, now()),
        });
      });
      response.on("error", () => settle({ kind: "refused", status: response.statusCode ?? 0, reason: "answer cut off", retryAfterMs: null }));
    });
    request.on("error", (error: Error) => {
      const code = "code" in error && typeof error.code === "string" ? error.code : null;
      settle({ kind: "failed", reason: code ? `${code} (${error.message})` : error.message });
    });
    request.end();
  });
}

/** The API's {error:{message}} body, if that is what came back. */
function errorMessage(body: string): string | null {
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed === "object" && parsed !== null && "error" in parsed) {
      const error: unknown = parsed.error;
      if (typeof error === "object" && error !== null && "message" in error && typeof error.message === "string") return error.message;
    }
  } catch {
    // not JSON
  }
  return null;
}

export type WsHandlers = {
  onMessage: (text: string) => void;
  /** Called once, however the socket ended. 1006 = dropped without a close frame. */
  onClose: (info: CloseInfo) => void;
};

/** One open socket. Paused until start(): a frame that came with the 101 must not be lost. */
export class WsConnection {
  readonly #socket: Socket;
  readonly #parser = new FrameParser();
  #head: Buffer;
  #handlers: WsHandlers | null = null;
  #closeSent = false;
  #received: CloseInfo | null = null;
  #lastError: string | null = null;
  #ended = false;
  readonly #closed: Promise<void>;

  constructor(socket: Socket, head: Buffer) {
    this.#socket = socket;
    this.#head = head;
    socket.pause();
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    this.#closed = new Promise((resolve) => {
      socket.once("close", () => {
        this.#ended = true;
        const info = this.#received ?? { code: 1006, reason: this.#lastError ?? "connection lost" };
        this.#handlers?.onClose(info);
        resolve();
      });
    });
    socket.on("error", (error: Error) => {
      this.#lastError = error.message;
    });
  }

  get isOpen(): boolean {
    return !this.#ended && !this.#closeSent && this.#received === null;
  }

  start(handlers: WsHandlers): void {
    this.#handlers = handlers;
    this.#socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    const head = this.#head;
    this.#head = Buffer.alloc(0);
    if (head.length > 0) this.#onData(head);
    this.#socket.resume();
    // Closed before we started listening: report it now rather than never.
    if (this.#ended) handlers.onClose(this.#received ?? { code: 1006, reason: this.#lastError ?? "connection lost" });
  }

  /** false if the socket is no longer open (the text was not sent). */
  send(text: string): boolean {
    if (!this.isOpen) return false;
    this.#socket.write(encodeFrame(OPCODES.text, Buffer.from(text, "utf8")));
    return true;
  }

  /** Sends a close frame and waits (bounded) for the server's; resolves once the socket is gone. */
  close(code = 1000, reason = ""): Promise<void> {
    if (!this.#ended && !this.#closeSent) {
      this.#closeSent = true;
      this.#socket.write(encodeClose(code, reason));
      const timer = setTimeout(() => this.#socket.destroy(), CLOSE_TIMEOUT_MS);
      timer.unref();
      if (this.#received !== null) this.#socket.end();
    }
    return this.#closed;
  }

  /** Drops the connection without a close handshake (a dead socket, a wake from sleep). */
  terminate(): void {
    this.#socket.destroy();
  }

  #onData(chunk: Buffer): void {
    let frames;
    try {
      frames = this.#parser.push(chunk);
    } catch (error) {
      const code = error instanceof FrameError ? error.closeCode : 1002;
      this.#lastError = error instanceof Error ? error.message : String(error);
      this.#received = { code: 1006, reason: `protocol error: ${this.#lastError}` };
      void this.close(code, "protocol error");
      return;
    }
    for (const frame of frames) {
      if (frame.opcode === OPCODES.text) {
        if (this.#received === null) this.#handlers?.onMessage(frame.payload.toString("utf8"));
      } else if (frame.opcode === OPCODES.ping) {
        if (this.isOpen) this.#socket.write(encodeFrame(OPCODES.pong, frame.payload));
      } else if (frame.opcode === OPCODES.close) {
        this.#received ??= decodeClose(frame.payload);
        if (!this.#closeSent) {
          // Echo the code (§5.5.1) unless it is one that must never be sent on the wire.
          this.#closeSent = true;
          const echo = isSendableCloseCode(this.#received.code) ? this.#received.code : 1000;
          this.#socket.write(encodeClose(echo, ""));
        }
        // The server should now close the TCP connection (§7.1.1); do not wait forever if it doesn't.
        this.#socket.end();
        setTimeout(() => this.#socket.destroy(), CLOSE_TIMEOUT_MS).unref();
      }
      // Binary and pong frames carry nothing for us.
    }
  }
}

/** §7.4: 1005, 1006 and 1015 are for reporting only; below 1000 and 1016-2999 are not assigned. */
function isSendableCloseCode(code: number): boolean {
  if (code >= 3000 && code <= 4999) return true;
  return code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006;
}
