/**
 * The node's live connection to the cloud: one WebSocket kept open for as long as the node runs.
 *   - Reconnects with exponential backoff and full jitter (base → cap), never sooner than a
 *     429's Retry-After. A socket that stayed up for a while resets the backoff; one that keeps
 *     dropping at once is backed off like a failed connect, so a flapping cloud gets no storm.
 *   - Beats every interval (the welcome frame's, unless the env overrides it). A cloud whose
 *     welcome names full_heartbeat_interval_s answers PING_FRAME in its runtime, without waking
 *     the node's Durable Object: on that socket a beat is the full heartbeat only when it is the
 *     first, when what it says changed (version, connection state, failure or error count, a
 *     sleep to report) or when the last full one is that old (the dashboard's chart points);
 *     otherwise it is PING_FRAME. An older cloud gets the full heartbeat every time. While the
 *     socket cannot connect, the heartbeat goes over HTTP with connection_state "degraded",
 *     the first one as soon as the first connect of an outage fails.
 *   - ws_failure_count = consecutive failed connects, back to 0 on a successful connect. At
 *     WS_FAILURE_THRESHOLD the one-shot connection_degraded is handed to onDegraded:
 *     once per outage (a new outage after a successful connect may report again).
 *   - A socket with no answer (an ack, a pong, anything) for 2 intervals is dead (a NAT that forgot us, a laptop lid): it
 *     is dropped and reconnected. wake() does the same at once, after the OS slept, and the
 *     next heartbeat that goes out says how long ago the node stopped running (asleep_for_ms),
 *     so the cloud shows the silence as sleep, not as an outage.
 *   - Commands go to onCommand one by one; their ack goes back on the socket they came on. No
 *     ack (the handler threw, the socket closed) means the cloud resends, and the handler knows
 *     the id (commands/handler.ts).
 *   - firstContact() tells the node program when the first connect is over: it failed, or the
 *     welcome came and the commands it announced were carried out. A program that crashes on
 *     start can still take the update that fixes it, if it waits for this before the risky part.
 *   - stop() says going_away "shutdown" before closing; sleep() says going_away "sleep" and
 *     then sends no heartbeat for SLEEP_HOLD_MS: the OS may take a few seconds to suspend, and
 *     a heartbeat in that gap would mark the node online again just before it goes silent
 *     (an offline warning for a laptop that was merely closed). If the computer did not sleep
 *     after all, heartbeats resume when the hold ends; if it did, wake() ends the hold.
 * Everything outside (sockets, HTTP, randomness, time through the global timers) is a
 * parameter, so the rules above are tested with fake sockets and fake timers.
 */
import { PING_FRAME } from "../../protocol/index.ts";
import type { Heartbeat, NodeFrame } from "../../protocol/index.ts";
import { RETRY_AFTER_MAX_MS, backoffDelayMs } from "../core/backoff.ts";
import type { RandomSource } from "../core/backoff.ts";
import { parseCloudFrame } from "./cloud-frames.ts";
import type { CommandAck, CommandHandler } from "../commands/handler.ts";
import type { ConnectionState } from "./heartbeat.ts";
import type { PostHeartbeat } from "./heartbeat-client.ts";
import type { CloseInfo, WsHandlers } from "./ws-client.ts";
import { messageOf } from "../core/errors.ts";

/** What the link needs of a socket (ws-client.ts's WsConnection, or a fake in tests). */
export type LinkSocket = {
  start(handlers: WsHandlers): void;
  send(text: string): boolean;
  close(code?: number, reason?: string): Promise<void>;
  terminate(): void;
};

export type LinkConnectOutcome =
  | { kind: "open"; socket: LinkSocket }
  | { kind: "refused"; status: number; reason: string; retryAfterMs: number | null }
  | { kind: "failed"; reason: string };

export type LinkTiming = {
  reconnectBaseMs: number;
  reconnectCapMs: number;
  /**
   * The first reconnect after a socket that stayed up waits a random time below this (10 s): when
   * the edge restarts or a deploy drops every socket, the fleet comes back spread over it, not
   * all in the same second.
   */
  reconnectSpreadMs: number;
  /** Until the cloud's welcome says otherwise. */
  defaultIntervalMs: number;
  /** BUHDI_NODE_HEARTBEAT_MS: wins over the welcome frame (tests). */
  intervalOverrideMs: number | null;
  /** BUHDI_NODE_FULL_HEARTBEAT_MS: wins over the welcome frame's full interval, on a cloud that answers pings (tests). */
  fullIntervalOverrideMs: number | null;
  /** A socket that stayed up this long resets the reconnect backoff. */
  stableSocketMs: number;
  failureThreshold: number;
};

export type DegradedDetails = { failure_count: number; last_connected: string | null };

export type LinkDeps = {
  connect: () => Promise<LinkConnectOutcome>;
  postHeartbeat: PostHeartbeat;
  heartbeat: (state: ConnectionState, wsFailureCount: number) => Heartbeat;
  onCommand: CommandHandler;
  onDegraded: (details: DegradedDetails) => void;
  /** The socket is open: the cloud is reachable again (a good moment to flush the spool). */
  onConnected: () => void;
  countError: () => void;
  log: (message: string) => void;
  random: RandomSource;
  timing: LinkTiming;
};

/** How firstContact() ended: the cloud welcomed us and its commands ran, the connect failed, or time ran out. */
export type FirstContact = "welcomed" | "no_contact" | "timeout";

export type LinkStatus = { state: ConnectionState; connected: boolean; ws_failure_count: number; heartbeat_interval_ms: number };

/** How long heartbeats pause after going_away "sleep" (see the header). */
export const SLEEP_HOLD_MS = 60_000;

/** Close codes that are an orderly goodbye from the cloud, not a fault. */
const ORDERLY_CLOSES = new Set([1000, 1001]);
/** The cloud closes an older socket with this when the same node connects again. */
const REPLACED_CLOSE = 4000;

export class LiveLink {
  readonly #deps: LinkDeps;
  #state: ConnectionState = "connecting";
  #socket: LinkSocket | null = null;
  #connecting = false;
  #stopped = false;
  #wsFailures = 0;
  /** Drives the reconnect delay; unlike #wsFailures it also counts sockets that dropped at once. */
  #backoffAttempts = 0;
  #degradedReported = false;
  #lastConnectedAt: number | null = null;
  #openedAt = 0;
  #intervalMs: number;
  #httpNotBefore = 0;
  #httpInFlight = false;
  /** Heartbeats are held until then after going_away "sleep". */
  #sleepHoldUntil = 0;
  /** This socket's full heartbeat interval: null until a welcome says the cloud answers pings. */
  #fullIntervalMs: number | null = null;
  /** The last full heartbeat on this socket: when, and what it said that must reach the cloud at once. */
  #lastFull: { at: number; says: string } | null = null;
  /** When the node stopped running before the last wake, until a heartbeat has said so. */
  #asleepSince: number | null = null;
  #reconnectTimer: NodeJS.Timeout | null = null;
  #heartbeatTimer: NodeJS.Timeout | null = null;
  #ackTimer: NodeJS.Timeout | null = null;
  /** Until the first contact is over: how it ended, once known, and who waits for it. */
  #firstContact: FirstContact | null = null;
  #firstContactWaiters: Array<(outcome: FirstContact) => void> = [];
  /** Commands the first welcome announced that have not been carried out yet (null: no welcome yet). */
  #announcedLeft: number | null = null;
  /** firstContact()'s timer switches from its connect limit to its commands limit here. */
  #onWelcomed: (() => void) | null = null;

  constructor(deps: LinkDeps) {
    this.#deps = deps;
    this.#intervalMs = deps.timing.intervalOverrideMs ?? deps.timing.defaultIntervalMs;
  }

  /**
   * Resolves when the first connect is over: "welcomed" once the cloud's welcome came and every
   * command it announced has been handled and acked (a SOFTWARE_UPDATE: installed or refused),
   * "no_contact" when that connect failed or the socket closed first, "timeout" when connecting
   * took longer than connectMs or the announced commands longer than commandsMs.
   */
  firstContact(limits: { connectMs: number; commandsMs: number }): Promise<FirstContact> {
    if (this.#firstContact !== null) return Promise.resolve(this.#firstContact);
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | null = null;
      const arm = (ms: number): void => {
        if (timer) clearTimeout(timer);
        timer = setTimeout(() => this.#endFirstContact("timeout"), ms);
      };
      arm(this.#announcedLeft === null ? limits.connectMs : limits.commandsMs);
      this.#onWelcomed = () => arm(limits.commandsMs);
      this.#firstContactWaiters.push((outcome) => {
        if (timer) clearTimeout(timer);
        resolve(outcome);
      });
    });
  }

  #endFirstContact(outcome: FirstContact): void {
    if (this.#firstContact !== null) return;
    this.#firstContact = outcome;
    this.#onWelcomed = null;
    for (const waiter of this.#firstContactWaiters.splice(0)) waiter(outcome);
  }

  get status(): LinkStatus {
    return {
      state: this.#state,
      connected: this.#socket !== null,
      ws_failure_count: this.#wsFailures,
      heartbeat_interval_ms: this.#intervalMs,
    };
  }

  start(): void {
    this.#scheduleHeartbeat(this.#intervalMs);
    void this.#connect();
  }

  /** The computer is about to sleep: silence from now on is not an outage. False if not connected. */
  sleep(): boolean {
    const sent = this.#send({ type: "going_away", reason: "sleep" });
    if (sent) this.#sleepHoldUntil = Date.now() + SLEEP_HOLD_MS;
    return sent;
  }

  /**
   * The computer just woke up: whatever socket we hold is suspect; connect again now. sleptMs:
   * how long the node did not run, as the wake detector measured it (0: unknown).
   */
  wake(sleptMs = 0): void {
    if (this.#stopped) return;
    this.#sleepHoldUntil = 0;
    if (sleptMs > 0) this.#asleepSince = Math.min(this.#asleepSince ?? Number.POSITIVE_INFINITY, Date.now() - sleptMs);
    this.#backoffAttempts = 0;
    const socket = this.#socket;
    if (socket) {
      this.#socket = null;
      this.#clearAck();
      socket.terminate();
    }
    this.#clearReconnect();
    this.#state = this.#wsFailures > 0 ? "degraded" : "connecting";
    void this.#connect();
  }

  /** Clean shutdown: going_away first, so the cloud shows the node as away, not as lost. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#endFirstContact("no_contact");
    this.#state = "disconnected";
    this.#clearReconnect();
    this.#clearAck();
    if (this.#heartbeatTimer) clearTimeout(this.#heartbeatTimer);
    const socket = this.#socket;
    this.#socket = null;
    if (socket) {
      socket.send(JSON.stringify({ type: "going_away", reason: "shutdown" } satisfies NodeFrame));
      await socket.close(1000, "node shutting down");
    }
  }

  // ── Connecting ──

  async #connect(): Promise<void> {
    if (this.#stopped || this.#socket || this.#connecting) return;
    this.#connecting = true;
    this.#clearReconnect();
    let outcome: LinkConnectOutcome;
    try {
      outcome = await this.#deps.connect();
    } catch (error) {
      outcome = { kind: "failed", reason: messageOf(error) };
    }
    this.#connecting = false;
    if (this.#stopped) {
      if (outcome.kind === "open") outcome.socket.terminate();
      return;
    }
    if (outcome.kind === "open") this.#onOpen(outcome.socket);
    else this.#onConnectFailed(outcome);
  }

  #onOpen(socket: LinkSocket): void {
    const now = Date.now();
    this.#socket = socket;
    this.#state = "connected";
    this.#fullIntervalMs = null;
    this.#lastFull = null;
    this.#openedAt = now;
    this.#lastConnectedAt = now;
    if (this.#wsFailures > 0) this.#deps.log(`connected to the cloud again after ${this.#wsFailures} failed attempts`);
    else this.#deps.log("connected to the cloud");
    this.#wsFailures = 0;
    this.#degradedReported = false;
    socket.start({
      onMessage: (text) => this.#onMessage(socket, text),
      onClose: (info) => this.#onClose(socket, info),
    });
    this.#deps.onConnected();
  }

  #onConnectFailed(outcome: Exclude<LinkConnectOutcome, { kind: "open" }>): void {
    this.#wsFailures += 1;
    this.#backoffAttempts += 1;
    this.#state = "degraded";
    const retryAfterMs =
      outcome.kind === "refused" && outcome.retryAfterMs !== null ? Math.min(outcome.retryAfterMs, RETRY_AFTER_MAX_MS) : null;
    // The HTTP fallback shares the node's request budget: a 429 here holds it back too.
    if (retryAfterMs !== null) this.#httpNotBefore = Date.now() + retryAfterMs;
    const { reconnectBaseMs, reconnectCapMs, failureThreshold } = this.#deps.timing;
    const delay = Math.max(backoffDelayMs(this.#backoffAttempts, this.#deps.random, reconnectBaseMs, reconnectCapMs), retryAfterMs ?? 0);
    const hint = outcome.kind === "refused" && outcome.status === 401 ? " (the node key was refused: enroll this node again)" : "";
    this.#deps.log(
      `could not connect to the cloud (attempt ${this.#wsFailures}): ${outcome.reason}${hint}; next try in ${Math.round(delay / 100) / 10} s`,
    );
    this.#endFirstContact("no_contact");
    // The first failure of an outage: tell the cloud over HTTP now, not an interval from now.
    if (this.#wsFailures === 1) void this.#httpHeartbeat();
    if (!this.#degradedReported && this.#wsFailures >= failureThreshold) {
      this.#degradedReported = true;
      this.#deps.onDegraded({
        failure_count: this.#wsFailures,
        last_connected: this.#lastConnectedAt === null ? null : new Date(this.#lastConnectedAt).toISOString(),
      });
    }
    this.#scheduleReconnect(delay);
  }

  #scheduleReconnect(delayMs: number): void {
    this.#clearReconnect();
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = null;
      void this.#connect();
    }, delayMs);
  }

  #clearReconnect(): void {
    if (this.#reconnectTimer) clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = null;
  }

  // ── An open socket ──

  #onMessage(socket: LinkSocket, text: string): void {
    if (socket !== this.#socket) return;
    this.#clearAck(); // any frame proves the cloud is there
    const parsed = parseCloudFrame(text);
    if (parsed.kind === "unknown") return; // a newer cloud; nothing this version must do
    if (parsed.kind === "unsupported_command") {
      void this.#rejectUnsupported(socket, parsed.id, parsed.command);
      return;
    }
    if (parsed.kind === "invalid") {
      this.#deps.countError();
      this.#deps.log(`ignored a frame from the cloud: ${parsed.reason}`);
      return;
    }
    const frame = parsed.frame;
    switch (frame.type) {
      case "welcome":
        if (this.#deps.timing.intervalOverrideMs === null) this.#intervalMs = Math.max(1000, Math.round(frame.heartbeat_interval_s * 1000));
        this.#fullIntervalMs =
          frame.full_heartbeat_interval_s === undefined
            ? null
            : (this.#deps.timing.fullIntervalOverrideMs ?? Math.round(frame.full_heartbeat_interval_s * 1000));
        this.#lastFull = null;
        this.#heartbeatTick(); // the cloud gets the full payload right away, then every interval
        if (this.#firstContact === null && this.#announcedLeft === null) {
          this.#announcedLeft = frame.commands ?? 0;
          if (this.#announcedLeft === 0) this.#endFirstContact("welcomed");
          else this.#onWelcomed?.();
        }
        return;
      case "heartbeat_ack":
      case "pong":
        return;
      case "command":
        void this.#runCommand(socket, frame.id, () => this.#deps.onCommand(frame));
        return;
      case "error":
        this.#deps.countError();
        this.#deps.log(`the cloud refused a frame: ${frame.code}: ${frame.message}`);
        return;
    }
  }

  async #runCommand(socket: LinkSocket, id: string, handle: () => Promise<CommandAck>): Promise<void> {
    try {
      await this.#handleCommand(socket, id, handle);
    } finally {
      if (this.#announcedLeft !== null && this.#announcedLeft > 0) {
        this.#announcedLeft -= 1;
        if (this.#announcedLeft === 0) this.#endFirstContact("welcomed");
      }
    }
  }

  /**
   * A newer cloud's command: acked "rejected" as unsupported (not an error of this node: nothing
   * failed), and it counts as handled for a welcome that announced it.
   */
  async #rejectUnsupported(socket: LinkSocket, id: string, command: string): Promise<void> {
    this.#deps.log(`command ${id} is of a type this version does not know (${command}); answered as unsupported`);
    await this.#runCommand(socket, id, async () => ({
      status: "rejected",
      detail: `unsupported command type ${command}: this node version does not know it`,
    }));
  }

  async #handleCommand(socket: LinkSocket, id: string, handle: () => Promise<CommandAck>): Promise<void> {
    let ack: CommandAck;
    try {
      ack = await handle();
    } catch (error) {
      // No ack: the cloud resends the command and it is tried again then.
      this.#deps.countError();
      this.#deps.log(`command ${id} could not be handled: ${messageOf(error)}`);
      return;
    }
    const sent = socket === this.#socket && this.#send({ type: "command_ack", id, ...ack });
    if (!sent) this.#deps.log(`the ack for command ${id} could not be sent; the cloud will resend the command and get it then`);
  }

  #onClose(socket: LinkSocket, info: CloseInfo): void {
    if (socket !== this.#socket) return; // one we already gave up on
    const orderly = ORDERLY_CLOSES.has(info.code);
    if (!orderly && info.code !== REPLACED_CLOSE) this.#deps.countError();
    this.#dropped(`the connection closed (${info.code}${info.reason ? ` ${info.reason}` : ""})`, info.code === REPLACED_CLOSE);
  }

  /** No frame for 2 intervals after a heartbeat: the socket is dead even if TCP has not noticed. */
  #onSilent(socket: LinkSocket): void {
    if (socket !== this.#socket) return;
    this.#deps.countError();
    this.#dropped(`no answer from the cloud for ${Math.round((2 * this.#intervalMs) / 1000)} s`, false);
    socket.terminate(); // after #dropped: its close event now finds a socket we already let go
  }

  #dropped(why: string, replaced: boolean): void {
    const lived = Date.now() - this.#openedAt;
    this.#socket = null;
    this.#clearAck();
    // Commands the welcome announced still run to their end (an install is not cut short).
    if (this.#announcedLeft === null) this.#endFirstContact("no_contact");
    if (this.#stopped) return;
    this.#state = "connecting";
    if (lived >= this.#deps.timing.stableSocketMs) this.#backoffAttempts = 0;
    let delay: number;
    if (replaced) {
      // Another process of this same node took the connection (a second copy running): do not
      // fight it socket for socket; try again much later.
      delay = this.#deps.timing.reconnectCapMs;
    } else {
      const { reconnectBaseMs, reconnectCapMs } = this.#deps.timing;
      delay =
        this.#backoffAttempts === 0
          ? Math.floor(this.#deps.random() * this.#deps.timing.reconnectSpreadMs)
          : backoffDelayMs(this.#backoffAttempts, this.#deps.random, reconnectBaseMs, reconnectCapMs);
    }
    this.#backoffAttempts += 1;
    this.#deps.log(`${why}; reconnecting${delay > 0 ? ` in ${Math.round(delay / 100) / 10} s` : ""}`);
    this.#scheduleReconnect(delay);
  }

  #send(frame: NodeFrame): boolean {
    return this.#socket?.send(JSON.stringify(frame)) ?? false;
  }

  #clearAck(): void {
    if (this.#ackTimer) clearTimeout(this.#ackTimer);
    this.#ackTimer = null;
  }

  // ── Heartbeats ──

  #scheduleHeartbeat(delayMs: number): void {
    if (this.#heartbeatTimer) clearTimeout(this.#heartbeatTimer);
    this.#heartbeatTimer = setTimeout(() => this.#heartbeatTick(), delayMs);
  }

  #heartbeatTick(): void {
    if (this.#stopped) return;
    this.#scheduleHeartbeat(this.#intervalMs);
    if (Date.now() < this.#sleepHoldUntil) return;
    const socket = this.#socket;
    if (socket) {
      const asleepSince = this.#asleepSince;
      const beat = this.#beat("connected");
      if (!this.#fullDue(beat)) socket.send(PING_FRAME);
      else if (this.#send({ type: "heartbeat", ...beat })) {
        this.#lastFull = { at: Date.now(), says: saysAtOnce(beat) };
        if (this.#asleepSince === asleepSince) this.#asleepSince = null; // said once
      }
      if (!this.#ackTimer) this.#ackTimer = setTimeout(() => this.#onSilent(socket), 2 * this.#intervalMs);
      return;
    }
    if (this.#wsFailures > 0) void this.#httpHeartbeat();
  }

  /** Whether this beat must be the full heartbeat rather than PING_FRAME (see the header). */
  #fullDue(beat: Heartbeat): boolean {
    const last = this.#lastFull;
    if (this.#fullIntervalMs === null || last === null || beat.asleep_for_ms !== undefined) return true;
    return last.says !== saysAtOnce(beat) || Date.now() - last.at >= this.#fullIntervalMs;
  }

  /** The heartbeat payload, with the sleep it ended if a wake has not been told yet. */
  #beat(state: ConnectionState): Heartbeat {
    const beat = this.#deps.heartbeat(state, this.#wsFailures);
    return this.#asleepSince === null ? beat : { ...beat, asleep_for_ms: Math.max(0, Date.now() - this.#asleepSince) };
  }

  async #httpHeartbeat(): Promise<void> {
    if (this.#httpInFlight || Date.now() < this.#httpNotBefore) return;
    this.#httpInFlight = true;
    try {
      const asleepSince = this.#asleepSince;
      const outcome = await this.#deps.postHeartbeat(this.#beat("degraded"));
      if (outcome.kind === "sent" && this.#asleepSince === asleepSince) this.#asleepSince = null;
      if (outcome.kind === "refused") {
        // The server answered and said no: that is a fault, unlike the outage behind an unreachable one.
        this.#deps.countError();
        if (outcome.retryAfterMs !== null) this.#httpNotBefore = Date.now() + Math.min(outcome.retryAfterMs, RETRY_AFTER_MAX_MS);
        this.#deps.log(`the fallback heartbeat was refused: ${outcome.reason}`);
      }
    } catch (error) {
      this.#deps.countError();
      this.#deps.log(`the fallback heartbeat failed: ${messageOf(error)}`);
    } finally {
      this.#httpInFlight = false;
    }
  }
}

/** What a heartbeat says that the cloud must hear at once; memory, uptime and task time wait for the next full one. */
function saysAtOnce(beat: Heartbeat): string {
  return JSON.stringify([beat.version, beat.connection_state, beat.ws_failure_count, beat.error_count]);
}
