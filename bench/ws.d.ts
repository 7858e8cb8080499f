/**
 * Types for the slice of ws@8's client API the benchmark uses (bench/ws-fleet.ts); ws is
 * present as a dependency of miniflare and @types/ws is not installed. Only what we call is declared.
 */
declare module "ws" {
  import type { Agent } from "node:http";

  export type ClientOptions = {
    headers?: Record<string, string>;
    perMessageDeflate?: boolean;
    /** Milliseconds allowed for the opening handshake. */
    handshakeTimeout?: number;
    agent?: Agent;
  };

  export default class WebSocket {
    static readonly CONNECTING: 0;
    static readonly OPEN: 1;
    static readonly CLOSING: 2;
    static readonly CLOSED: 3;
    constructor(address: string, options?: ClientOptions);
    readonly readyState: 0 | 1 | 2 | 3;
    send(data: string, callback?: (error?: Error) => void): void;
    close(code?: number, reason?: string): void;
    terminate(): void;
    on(event: "open", listener: () => void): this;
    on(event: "message", listener: (data: Buffer, isBinary: boolean) => void): this;
    on(event: "close", listener: (code: number, reason: Buffer) => void): this;
    on(event: "error", listener: (error: Error) => void): this;
    on(event: "unexpected-response", listener: (request: unknown, response: import("node:http").IncomingMessage) => void): this;
    once(event: "close", listener: (code: number, reason: Buffer) => void): this;
    removeAllListeners(): this;
  }
}
