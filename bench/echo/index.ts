/**
 * The heartbeat benchmark's baseline: the least a Durable Object can do per frame. The
 * Worker routes `GET /api/node/connect` to one object per `x-node-key` (as the real edge
 * routes a node to its NodeSession, minus auth, rate limit, storage and D1); the object
 * accepts the socket with the same hibernation API (`ctx.acceptWebSocket`) and echoes every
 * frame back from `webSocketMessage`. Anything else is a 404; a non-upgrade is a 426.
 *
 * This file is type-checked with the Node-side config (tsconfig.node.json covers bench/), so
 * it declares the few workerd types it touches itself instead of importing cloudflare:workers.
 */

type Socket = { send(message: string | ArrayBuffer): void };
type State = { acceptWebSocket(ws: Socket): void };
type Stub = { fetch(request: Request): Promise<Response> };
type Namespace = { idFromName(name: string): unknown; get(id: unknown): Stub };
type Env = { ECHO: Namespace };
declare const WebSocketPair: new () => { 0: Socket; 1: Socket };

export class Echo {
  readonly #ctx: State;

  constructor(ctx: State, _env: Env) {
    this.#ctx = ctx;
  }

  async fetch(): Promise<Response> {
    const { 0: client, 1: server } = new WebSocketPair();
    this.#ctx.acceptWebSocket(server);
    return new Response(null, { status: 101, webSocket: client } as ResponseInit);
  }

  async webSocketMessage(ws: Socket, message: string | ArrayBuffer): Promise<void> {
    ws.send(message);
  }
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname !== "/api/node/connect") return new Response("not found", { status: 404 });
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") return new Response("upgrade required", { status: 426 });
    const key = request.headers.get("x-node-key") ?? "";
    return env.ECHO.get(env.ECHO.idFromName(key)).fetch(request);
  },
};
