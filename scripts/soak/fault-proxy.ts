/**
 * The soak's fault-injecting proxy: the agents reach the edge only through it, HTTP and
 * WebSocket alike. While faults are on, each new TCP connection draws one fault (or none) from
 * what a home network and a busy edge do to a node: connections reset or never answered,
 * answers delayed, bursts of 502/503/429 (with Retry-After), answers cut off after the edge
 * already acted on the request, bodies that stall halfway, and WebSockets that drop without a
 * close frame (the node sees 1006). It also reads the status of every answer the edge itself
 * gives, so the soak can tell the edge's 5xx from the ones injected here. Only 127.0.0.1.
 */
import { createConnection, createServer, type Server, type Socket } from "node:net";

export const FAULT_KINDS = [
  "reset",
  "no_answer",
  "delay",
  "status_502",
  "status_503",
  "status_429",
  "truncated_answer",
  "stalled_body",
  "ws_close_1006",
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** Chances per new connection while faults are on; the rest pass untouched. */
const HTTP_FAULTS: [FaultKind | "burst", number][] = [
  ["reset", 0.05],
  ["no_answer", 0.02],
  ["delay", 0.08],
  ["burst", 0.03],
  ["truncated_answer", 0.06],
  ["stalled_body", 0.05],
];
const WS_FAULTS: [FaultKind, number][] = [
  ["reset", 0.05],
  ["delay", 0.05],
  ["ws_close_1006", 0.25],
];
/** A connection that is never answered is cut after this long (the agent's own timeout may come first). */
const NO_ANSWER_MS = 20_000;

export type EdgeAnswer = { at: number; status: number };

export type FaultProxy = {
  url: string;
  /** Faults injected so far, by kind. */
  readonly injected: Record<FaultKind, number>;
  /** Every status line the edge itself sent back through the proxy (injected answers are not here). */
  readonly edgeAnswers: EdgeAnswer[];
  faultsOn(on: boolean): void;
  close(): Promise<void>;
};

export async function startFaultProxy(target: string, random: () => number = Math.random): Promise<FaultProxy> {
  const to = new URL(target);
  const injected = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;
  const edgeAnswers: EdgeAnswer[] = [];
  const sockets = new Set<Socket>();
  let faulty = false;
  let burst: { until: number; status: 502 | 503 | 429 } | null = null;
  const between = (min: number, max: number) => min + random() * (max - min);
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
  };
  const count = (kind: FaultKind) => {
    injected[kind] += 1;
  };

  const draw = <K extends string>(table: [K, number][]): K | "none" => {
    let r = random();
    for (const [kind, chance] of table) {
      if (r < chance) return kind;
      r -= chance;
    }
    return "none";
  };

  /**
   * Pipes client ⇄ edge from the first bytes on. `onAnswer` sees what the edge sends: "pass" lets
   * it through, "drop" swallows it, a promise holds it (the client is closed only after it).
   */
  const forward = (client: Socket, first: Buffer, onAnswer?: (chunk: Buffer, edge: Socket) => "pass" | "drop" | Promise<void>): Socket => {
    const edge = createConnection({ host: to.hostname, port: Number(to.port) });
    track(edge);
    edge.write(first);
    let held: Promise<void> = Promise.resolve();
    client.on("data", (chunk: Buffer) => edge.write(chunk));
    client.once("close", () => edge.destroy());
    // The edge's close ends the client gracefully, after anything still held back.
    edge.once("close", () => void held.then(() => client.end()));
    edge.on("data", (chunk: Buffer) => {
      for (const match of chunk.toString("latin1").matchAll(/HTTP\/1\.1 (\d{3}) /g)) {
        edgeAnswers.push({ at: Date.now(), status: Number(match[1]) });
      }
      const verdict = onAnswer?.(chunk, edge) ?? "pass";
      if (verdict === "pass") client.write(chunk);
      else if (verdict !== "drop") held = verdict;
    });
    client.resume();
    return edge;
  };

  const answerWith = (client: Socket, status: 502 | 503 | 429) => {
    const reason = { 502: "Bad Gateway", 503: "Service Unavailable", 429: "Too Many Requests" }[status];
    const body = `${status} ${reason} (injected by the soak's fault proxy)`;
    const retryAfter = status === 502 ? "" : "retry-after: 1\r\n";
    client.end(
      `HTTP/1.1 ${status} ${reason}\r\ncontent-type: text/plain\r\ncontent-length: ${body.length}\r\n${retryAfter}connection: close\r\n\r\n${body}`,
    );
    count(`status_${status}`);
  };

  const handle = (client: Socket, first: Buffer) => {
    client.pause();
    const upgrade = /\r\nupgrade:\s*websocket/i.test(first.toString("latin1"));
    if (!faulty) return void forward(client, first);
    if (burst && Date.now() < burst.until) return answerWith(client, burst.status);
    const fault = upgrade ? draw(WS_FAULTS) : draw(HTTP_FAULTS);
    switch (fault) {
      case "none":
        return void forward(client, first);
      case "reset":
        count("reset");
        return void client.resetAndDestroy();
      case "no_answer":
        count("no_answer");
        return void setTimeout(() => client.destroy(), NO_ANSWER_MS).unref();
      case "delay":
        count("delay");
        return void setTimeout(() => !client.destroyed && forward(client, first), between(200, 2_000));
      case "burst": {
        const statuses = [502, 503, 429] as const;
        burst = { until: Date.now() + between(1_000, 3_000), status: statuses[Math.floor(random() * 3)]! };
        return answerWith(client, burst.status);
      }
      case "truncated_answer":
        count("truncated_answer");
        // The edge has acted on the request by the time its answer comes; the node sees a reset mid-answer.
        return void forward(client, first, (chunk) => {
          client.write(chunk.subarray(0, Math.floor(random() * chunk.length)));
          client.resetAndDestroy();
          return "drop";
        });
      case "stalled_body": {
        count("stalled_body");
        let stalled = false;
        return void forward(client, first, (chunk, edge) => {
          if (stalled) return "pass";
          stalled = true;
          client.write(chunk.subarray(0, Math.min(64, chunk.length)));
          edge.pause();
          return new Promise<void>((resolve) =>
            setTimeout(
              () => {
                if (!client.destroyed) client.write(chunk.subarray(Math.min(64, chunk.length)));
                edge.resume();
                resolve();
              },
              between(1_000, 5_000),
            ),
          );
        });
      }
      case "ws_close_1006": {
        count("ws_close_1006");
        const edge = forward(client, first);
        setTimeout(
          () => {
            client.resetAndDestroy();
            edge.destroy();
          },
          between(1_000, 8_000),
        ).unref();
        return;
      }
    }
  };

  const server: Server = createServer((client) => {
    track(client);
    client.once("data", (first: Buffer) => handle(client, first));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    injected,
    edgeAnswers,
    faultsOn(on) {
      faulty = on;
      if (!on) burst = null;
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
