/**
 * Many WebSockets from this process, each one a simulated node: open them with bounded
 * concurrency, then send frames in a loop — closed (each socket sends its next frame as soon
 * as the answer to the previous one arrives, so exactly one frame per socket is in flight) or
 * paced (one frame per socket per interval, like a real node) — and count the answers that
 * arrive inside a window. The real edge and the echo baseline go through here with the same
 * frames, so the harness is never the difference between them.
 */
import WebSocket from "ws";
import { sleep } from "./settings.ts";

export type Member = {
  /** Sent as x-node-key on the upgrade. */
  key: string;
  /** The frame this socket sends, again and again. */
  frame: string;
  /** Frames sent in turn instead (a full heartbeat, then pings, as a node on a cloud that answers them). */
  cycle?: string[];
};

export type OpenSettings = { concurrency: number; handshakeTimeoutMs: number; deadlineMs: number };

export type Fleet = {
  sockets: WebSocket[];
  members: Member[];
  /** Why sockets did not open: "HTTP 429", "ECONNRESET", "timeout", ... with counts. */
  failures: Record<string, number>;
  openSeconds: number;
};

export type LoopSettings = {
  warmupSeconds: number;
  windowSeconds: number;
  /** Is this message the answer to our frame? (heartbeat_ack for the edge, the echo for the baseline). */
  isAnswer(message: string): boolean;
};

export type LoopResult = {
  connections: number;
  answered: number;
  windowSeconds: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Messages that were neither the answer nor ignorable (error frames), in the window. */
  unexpected: number;
  /** Sockets that closed or failed during warm-up or the window. */
  closedDuringRun: number;
  /** Sockets that never answered in the window (starved or stuck). */
  silentSockets: number;
};

/** Opens one socket per member, `concurrency` handshakes at a time, until all are tried or the deadline. */
export async function openFleet(url: string, members: Member[], settings: OpenSettings): Promise<Fleet> {
  const wsUrl = `${url.replace(/^http/, "ws")}/api/node/connect`;
  const started = performance.now();
  const deadline = Date.now() + settings.deadlineMs;
  const sockets: (WebSocket | undefined)[] = new Array(members.length);
  const failures: Record<string, number> = {};
  let next = 0;
  const worker = async () => {
    while (next < members.length && Date.now() < deadline) {
      const i = next++;
      const outcome = await openOne(wsUrl, members[i]!.key, settings.handshakeTimeoutMs);
      if (typeof outcome === "string") failures[outcome] = (failures[outcome] ?? 0) + 1;
      else sockets[i] = outcome;
    }
  };
  await Promise.all(Array.from({ length: Math.min(settings.concurrency, members.length) }, worker));
  const open: WebSocket[] = [];
  const openMembers: Member[] = [];
  sockets.forEach((ws, i) => {
    if (ws) {
      open.push(ws);
      openMembers.push(members[i]!);
    }
  });
  const untried = members.length - next;
  if (untried > 0) failures["not tried before the deadline"] = untried;
  return { sockets: open, members: openMembers, failures, openSeconds: (performance.now() - started) / 1000 };
}

function openOne(wsUrl: string, key: string, timeoutMs: number): Promise<WebSocket | string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(wsUrl, { headers: { "x-node-key": key }, perMessageDeflate: false, handshakeTimeout: timeoutMs });
    let settled = false;
    const settle = (value: WebSocket | string) => {
      if (settled) return;
      settled = true;
      if (typeof value === "string") {
        ws.removeAllListeners();
        ws.on("error", () => {});
        ws.terminate();
      }
      resolve(value);
    };
    ws.on("open", () => settle(ws));
    ws.on("unexpected-response", (_req, res) => settle(`HTTP ${res.statusCode}`));
    ws.on("error", (error) => settle(errorName(error)));
    ws.on("close", (code) => settle(`closed ${code} before open`));
  });
}

function errorName(error: Error): string {
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string") return code;
  return /timed out/i.test(error.message) ? "handshake timeout" : error.message.slice(0, 60);
}

export type LoopMode =
  /** Next frame as soon as the answer to the previous one arrives: one frame in flight per socket. */
  | { kind: "closed" }
  /** One frame per socket every intervalMs (as a real node does), starts spread over one interval. */
  | { kind: "paced"; intervalMs: number };

export type Loop = {
  /** Starts counting answers (and their latencies). */
  beginWindow(): void;
  /** Stops counting and returns the window's figures; the loop keeps running. */
  endWindow(): LoopResult;
  /** Sockets that have had at least one answer since the loop started (warm-up included). */
  answeredOnce(): number;
  /** No more frames are sent. */
  stop(): void;
};

/** Starts sending on every socket; answers count only between beginWindow and endWindow. */
export function startLoop(fleet: Fleet, mode: LoopMode, isAnswer: (message: string) => boolean): Loop {
  const n = fleet.sockets.length;
  let phase: "warmup" | "window" | "done" = "warmup";
  let answered = 0;
  let unexpected = 0;
  let closedDuringRun = 0;
  let windowStarted = 0;
  const latencies: number[] = [];
  const sentAt = new Float64Array(n);
  const answeredInWindow = new Uint8Array(n);
  const answeredEver = new Uint8Array(n);
  const sentCount = new Uint32Array(n);
  let answeredOnce = 0;
  const timers: NodeJS.Timeout[] = [];

  const send = (i: number) => {
    const ws = fleet.sockets[i]!;
    if (phase === "done" || ws.readyState !== WebSocket.OPEN) return;
    sentAt[i] = performance.now();
    const { frame, cycle } = fleet.members[i]!;
    ws.send(cycle ? cycle[sentCount[i]! % cycle.length]! : frame);
    sentCount[i]! += 1;
  };
  fleet.sockets.forEach((ws, i) => {
    ws.removeAllListeners();
    ws.on("error", () => {});
    ws.on("close", () => {
      if (phase !== "done") closedDuringRun++;
    });
    ws.on("message", (data) => {
      const text = data.toString();
      if (!isAnswer(text)) {
        if (phase === "window" && !text.includes('"welcome"')) unexpected++;
        return;
      }
      if (!answeredEver[i]) {
        answeredEver[i] = 1;
        answeredOnce++;
      }
      if (phase === "window") {
        answered++;
        answeredInWindow[i] = 1;
        if (latencies.length < 200_000) latencies.push(performance.now() - sentAt[i]!);
      }
      if (mode.kind === "closed") send(i);
    });
  });
  if (mode.kind === "closed") {
    for (let i = 0; i < n; i++) send(i);
  } else {
    for (let i = 0; i < n; i++) {
      const start = setTimeout(
        () => {
          send(i);
          timers.push(setInterval(() => send(i), mode.intervalMs));
        },
        Math.floor((i * mode.intervalMs) / n),
      );
      timers.push(start);
    }
  }

  return {
    beginWindow() {
      phase = "window";
      windowStarted = performance.now();
    },
    endWindow() {
      const windowSeconds = (performance.now() - windowStarted) / 1000;
      phase = "warmup";
      const sorted = [...latencies].sort((a, b) => a - b);
      const pct = (p: number) => (sorted.length ? round(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!) : 0);
      let silentSockets = 0;
      for (let i = 0; i < n; i++) if (!answeredInWindow[i]) silentSockets++;
      return {
        connections: n,
        answered,
        windowSeconds,
        perSecond: windowSeconds > 0 ? answered / windowSeconds : 0,
        p50Ms: pct(0.5),
        p99Ms: pct(0.99),
        unexpected,
        closedDuringRun,
        silentSockets,
      };
    },
    answeredOnce: () => answeredOnce,
    stop() {
      phase = "done";
      for (const timer of timers) clearTimeout(timer);
    },
  };
}

/** The closed loop over a warm-up and then a fixed window. */
export async function closedLoop(fleet: Fleet, settings: LoopSettings): Promise<LoopResult> {
  const loop = startLoop(fleet, { kind: "closed" }, settings.isAnswer);
  try {
    await sleep(settings.warmupSeconds * 1000);
    loop.beginWindow();
    await sleep(settings.windowSeconds * 1000);
    return loop.endWindow();
  } finally {
    loop.stop();
  }
}

/** Closes every socket (1000) and waits for the closes, up to timeoutMs; the rest are terminated. */
export async function closeFleet(fleet: Fleet, timeoutMs = 10_000): Promise<void> {
  const closed = fleet.sockets.map(
    (ws) =>
      new Promise<void>((resolve) => {
        if (ws.readyState === WebSocket.CLOSED) return resolve();
        ws.once("close", () => resolve());
        try {
          ws.close(1000, "benchmark over");
        } catch {
          resolve();
        }
      }),
  );
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.all(closed), new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
  clearTimeout(timer);
  for (const ws of fleet.sockets) if (ws.readyState !== WebSocket.CLOSED) ws.terminate();
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
