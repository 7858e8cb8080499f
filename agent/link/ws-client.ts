/**
 * The node's WebSocket client: the `ws` package behind three typed outcomes, so a refused upgrade
 * is an answer the node can act on (401 = the key, 429 = wait Retry-After, 5xx = the cloud)
 * instead of a bare error. ws also holds the line against a server that breaks the protocol (an
 * impersonated one, or anything in the path of an http:// edge): masked frames (1002), text that
 * is not UTF-8 (1007), and messages beyond the cloud's own frame limit, however fragmented (1009).
 */
import type { IncomingMessage } from "node:http";
import type WebSocket from "ws";
import { MAX_FRAME_BYTES } from "../../protocol/limits.ts";
import { parseRetryAfter } from "../core/backoff.ts";
import { messageOf } from "../core/errors.ts";

/**
 * ws is loaded on the first connect, never imported: loading it requires node:http, https, net,
 * tls and zlib. The release bundle turns this import() into a call made here, so the supervisor
 * (which shares the bundle and makes no connections) never loads them.
 */
let wsModule: Promise<typeof WebSocket> | null = null;
const loadWs = (): Promise<typeof WebSocket> => (wsModule ??= import("ws").then((module) => module.default));

/** How long a close handshake may take before the socket is simply dropped. */
const CLOSE_TIMEOUT_MS = 1_000;
/** Of a refused upgrade's body, this much is read for its message. */
const REFUSAL_BODY_CHARS = 4096;
/** A close reason must fit a control frame: 125 bytes less the 2-byte code. */
const CLOSE_REASON_BYTES = 123;

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

/**
 * ws 8.21's bound on the close handshake (the default is 30 s); @types/ws 8.18 does not list it.
 * It bounds every close: ours, the echo of the server's, and the one ws sends on a protocol error.
 */
type ClientOptions = WebSocket.ClientOptions & { closeTimeout: number };

export async function connectWebSocket(url: string, options: ConnectOptions): Promise<ConnectOutcome> {
  const target = new URL(url);
  if (!["http:", "https:", "ws:", "wss:"].includes(target.protocol)) {
    return { kind: "failed", reason: `not a WebSocket URL: ${target.protocol}` };
  }
  const WebSocketClass = await loadWs();
  const now = options.now ?? Date.now;
  const clientOptions: ClientOptions = {
    headers: options.headers,
    maxPayload: MAX_FRAME_BYTES,
    // The cloud's frames are small JSON: no compression, and no zlib state held per socket.
    perMessageDeflate: false,
    closeTimeout: CLOSE_TIMEOUT_MS,
  };

  let socket: WebSocket;
  try {
    socket = new WebSocketClass(target, clientOptions);
  } catch (error) {
    return { kind: "failed", reason: messageOf(error) };
  }
  return new Promise((resolve) => {
    let settled = false;
    const settle = (outcome: ConnectOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(outcome);
    };
    const timer = setTimeout(() => {
      settle({ kind: "failed", reason: `no answer within ${options.timeoutMs} ms` });
      socket.terminate();
    }, options.timeoutMs);

    socket.on("upgrade", (response) => response.socket.setKeepAlive(true, 30_000));
    socket.once("open", () => {
      if (settled) {
        socket.terminate(); // opened after the timeout gave up on it
        return;
      }
      settle({ kind: "open", socket: new WsConnection(socket) });
    });
    socket.once("unexpected-response", (_request, response) => {
      void readRefusal(response, now).then((outcome) => {
        settle(outcome);
        socket.terminate();
      });
    });
    // Kept for the socket's whole life: ws emits errors after a refusal or a timeout too.
    socket.on("error", (error: Error) => {
      const code = "code" in error && typeof error.code === "string" ? error.code : null;
      settle({ kind: "failed", reason: code ? `${code} (${error.message})` : error.message });
    });
  });
}

/** The refused upgrade as the node needs it: the status, the API's message, Retry-After. */
function readRefusal(response: IncomingMessage, now: () => number): Promise<ConnectOutcome> {
  const status = response.statusCode ?? 0;
  return new Promise((resolve) => {
    let body = "";
    response.setEncoding("utf8");
    response.on("data", (chunk: string) => {
      if (body.length < REFUSAL_BODY_CHARS) body += chunk;
    });
    response.on("end", () => {
      const retryAfter = response.headers["retry-after"];
      resolve({
        kind: "refused",
        status,
        reason: `${status}: ${errorMessage(body) ?? response.statusMessage ?? "refused"}`,
        retryAfterMs: parseRetryAfter(typeof retryAfter === "string" ? retryAfter : null, now()),
      });
    });
    response.on("error", () => resolve({ kind: "refused", status, reason: `${status}: answer cut off`, retryAfterMs: null }));
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
  readonly #ws: WebSocket;
  #handlers: WsHandlers | null = null;
  /** Messages ws had already read when it was paused; delivered by start(). */
  #early: string[] = [];
  #ended: CloseInfo | null = null;
  #lastError: string | null = null;
  readonly #closed: Promise<void>;

  constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.pause();
    ws.on("message", (data, isBinary) => {
      if (isBinary) return; // binary frames carry nothing for us
      const text = rawText(data);
      if (this.#handlers) this.#handlers.onMessage(text);
      else this.#early.push(text);
    });
    ws.on("error", (error: Error) => {
      this.#lastError = error.message;
    });
    this.#closed = new Promise((resolve) => {
      ws.once("close", (code: number, reason: Buffer) => {
        // 1006: no close frame came back (a cut connection, or our own close after a protocol error).
        this.#ended = code === 1006 ? { code, reason: this.#lastError ?? "connection lost" } : { code, reason: reason.toString("utf8") };
        this.#handlers?.onClose(this.#ended);
        resolve();
      });
    });
  }

  get isOpen(): boolean {
    return this.#ws.readyState === this.#ws.OPEN;
  }

  start(handlers: WsHandlers): void {
    this.#handlers = handlers;
    for (const text of this.#early.splice(0)) handlers.onMessage(text);
    // Closed before we started listening: report it now rather than never.
    if (this.#ended) handlers.onClose(this.#ended);
    else this.#ws.resume();
  }

  /** false if the socket is no longer open (the text was not sent). */
  send(text: string): boolean {
    if (!this.isOpen) return false;
    this.#ws.send(text);
    return true;
  }

  /** Sends a close frame and waits (bounded) for the server's; resolves once the socket is gone. */
  close(code = 1000, reason = ""): Promise<void> {
    if (this.isOpen) {
      try {
        this.#ws.close(code, fitCloseReason(reason));
      } catch {
        this.#ws.terminate(); // a code that must not go on the wire (1005, 1006, ...)
      }
    }
    return this.#closed;
  }

  /** Drops the connection without a close handshake (a dead socket, a wake from sleep). */
  terminate(): void {
    this.#ws.terminate();
  }
}

/** A text message is one Buffer (binaryType "nodebuffer"); the other shapes are for completeness. */
function rawText(data: WebSocket.RawData): string {
  if (Buffer.isBuffer(data)) return data.toString("utf8");
  if (Array.isArray(data)) return Buffer.concat(data).toString("utf8");
  return Buffer.from(data).toString("utf8");
}

/** Cut to 123 bytes of UTF-8 without splitting a character (ws throws on a longer reason). */
function fitCloseReason(reason: string): string {
  let fitted = reason.slice(0, CLOSE_REASON_BYTES);
  while (Buffer.byteLength(fitted, "utf8") > CLOSE_REASON_BYTES) fitted = fitted.slice(0, -1);
  return fitted;
}
