/**
 * NodeSession: one Durable Object per node. It holds the node's WebSocket
 * (hibernatable, so an idle node costs nothing between heartbeats), its live
 * state, its dead man's switch (the alarm) and its pending commands.
 *
 * D1 hears from here only when something that matters changes (status,
 * version, an outage) or at the hourly rollup — never once per heartbeat.
 */
import { DurableObject } from "cloudflare:workers";
import {
  type CloudFrame,
  type CommandType,
  type Heartbeat,
  MAX_FRAME_BYTES,
  type NodeFrame,
  NodeFrameSchema,
  type NodeStatus,
  PING_FRAME,
  PONG_FRAME,
} from "../../protocol/messages.ts";
import { describeIssues } from "../../protocol/errors.ts";
import { isOlder } from "../../protocol/version.ts";
import { heartbeatLogOneIn, historySlotMs, liveTiming, triageSettings } from "../config.ts";
import { database } from "../db/client.ts";
import { syncNodeStatus } from "../db/node-status.ts";
import { fleetDatabase, ownerDatabase } from "../db/shards.ts";
import { verifyResolutions } from "../db/triage.ts";
import type { Env } from "../env.ts";
import { logHeartbeat, logStatusChange } from "./activity-log.ts";
import { CommandStore, commandFrame, type StoredCommand } from "./commands.ts";
import { CREDENTIAL_KEY, loadCredential, ownerIfKeyMatches } from "./credential.ts";
import { flushDue, type HistorySample, migrateLegacySamples, readHistory, sampleDue, writeSamples } from "./history.ts";
import {
  checkSilence,
  displayStatus,
  goingAway,
  initialState,
  type LiveSnapshot,
  type LiveState,
  needsD1Sync,
  nextCheckAt,
  pinged,
  seen,
  retire,
  sleptThrough,
  type Timing,
  upgradeState,
  withSnapshot,
  worthPersisting,
} from "./live-state.ts";

export type NodeIdentity = { nodeId: string; ownerId: string };

/**
 * Headers the Worker sets when it forwards an upgrade (the DO is not public): the node the key
 * names and the SHA-256 of the key's secret, which this object checks (credential.ts).
 */
export const UPGRADE_HEADERS = { nodeId: "x-buhdi-node-id", keyHash: "x-buhdi-key-hash" } as const;

export type LiveStatus = {
  status: NodeStatus;
  connected: boolean;
  last_seen: string | null;
  version: string | null;
  uptime_s: number | null;
  memory_mb: number | null;
  error_count: number | null;
  ws_failure_count: number | null;
  /** As the node's last heartbeat said it, also a word from an agent version this edge does not know. */
  connection_state: string | null;
  /** When the node was uninstalled; null unless status is "retired". */
  retired_at: string | null;
};

/** retired: the node is uninstalled; nothing was stored and nothing will be sent. */
export type EnqueuedCommand = { id: string; expires_at: string; sent: boolean; retired?: true };

const STATE_KEY = "live";
/** A failed D1 write is retried this soon by the alarm. */
const D1_RETRY_MS = 30_000;

/** since: when the edge received the report the fix is for (its telemetry row's time). */
export type HealthExpectation = { resolutionId: string; fixVersion: string | null; since: number };

const EXPECT_PREFIX = "expect:";

/**
 * The run of the node program the expectations watch, so that a fix is verified when its health
 * window ends (an alarm) instead of at the next heartbeat after that. Set by a heartbeat on the
 * socket (its start: the object's time minus the program's uptime), forgotten whenever a socket
 * connects or closes: a program that dies takes its socket with it, and the next run starts over.
 */
type WatchedRun = { startedAt: number; version: string };
const RUN_KEY = "expect-run";
/** Heartbeats of one run put its start this close together (network and timer jitter); a restart moves it further. */
const SAME_RUN_MS = 1_000;
/** At the window's end the last heartbeat may be at most one interval and this old: the node is not overdue. */
const ON_TIME_SLACK_MS = 5_000;

/** What rides on each socket (its attachment): the live snapshot and the chart samples of the hour so far (history.ts). */
type SocketAttachment = LiveSnapshot & { samples?: HistorySample[]; lastSampleAt?: number | null };

export class NodeSession extends DurableObject<Env> {
  #state: LiveState | null = null;
  /** What storage holds (the per-heartbeat part may be newer on the socket). */
  #persisted: LiveState | null = null;
  /** The alarm as last set or read; undefined until read after a wake. */
  #alarmAt: number | null | undefined = undefined;
  /** Fixes waiting to be seen healthy; loaded on first use after a wake. */
  #expectations: HealthExpectation[] | null = null;
  /** The run being watched for a window's end; undefined until read after a wake. */
  #run: WatchedRun | null | undefined = undefined;
  /** Chart samples not yet in storage (also on the socket, so they outlive hibernation). */
  #samples: HistorySample[] = [];
  #lastSampleAt: number | null = null;
  /** Samples of the older one-key-each format are looked for once per object lifetime. */
  #legacyMoved = false;
  readonly #commands: CommandStore;
  readonly #timing: Timing;
  readonly #historySlotMs: number;
  readonly #heartbeatLogOneIn: number;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#commands = new CommandStore(ctx.storage);
    this.#timing = liveTiming(env);
    this.#historySlotMs = historySlotMs(env);
    this.#heartbeatLogOneIn = heartbeatLogOneIn(env);
    // A ping is answered by the runtime without waking this object; the alarm reads when.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING_FRAME, PONG_FRAME));
    // Runs on every wake from hibernation: one storage read, then the sockets' fresher snapshots.
    void ctx.blockConcurrencyWhile(async () => {
      const stored = await ctx.storage.get<LiveState>(STATE_KEY);
      const attachments = this.#attachments();
      this.#persisted = stored ? upgradeState(stored) : null;
      this.#state = this.#persisted && withSnapshot(this.#persisted, attachments);
      const freshest = attachments.reduce<SocketAttachment | null>(
        (best, a) => ((a.lastSeenAt ?? 0) >= (best?.lastSeenAt ?? 0) ? a : best),
        null,
      );
      this.#samples = freshest?.samples ?? [];
      this.#lastSampleAt = freshest?.lastSampleAt ?? null;
    });
  }

  // ── The socket ──

  override async fetch(request: Request): Promise<Response> {
    const nodeId = request.headers.get(UPGRADE_HEADERS.nodeId) ?? "";
    const keyHash = request.headers.get(UPGRADE_HEADERS.keyHash) ?? "";
    if (!nodeId || !keyHash) return new Response("missing node id or key hash", { status: 400 });
    // Checked before anything else: a wrong key neither opens a socket nor replaces the node's.
    const ownerId = await ownerIfKeyMatches(await loadCredential(this.ctx.storage, fleetDatabase(this.env), nodeId), keyHash);
    if (!ownerId) return new Response(null, { status: 401 });
    const identity = { nodeId, ownerId };
    if (this.#state?.presence === "retired") return new Response("this node was retired (uninstalled)", { status: 410 });

    // One live socket per node: a reconnect replaces a socket the node has given up on.
    for (const old of this.ctx.getWebSockets()) closeQuietly(old, 4000, "replaced by a newer connection");
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server);

    const now = Date.now();
    await this.#forgetRun();
    await this.#update(identity, (state) => seen(state, now), now);
    // The welcome says how many commands follow, so a node that may not live long (one that
    // crashes on start) knows to carry them out before it does anything risky.
    const pending = await this.#commands.deliverable(now);
    send(server, {
      type: "welcome",
      node_id: identity.nodeId,
      heartbeat_interval_s: this.#timing.heartbeatIntervalMs / 1000,
      full_heartbeat_interval_s: this.#timing.fullHeartbeatIntervalMs / 1000,
      commands: pending.length,
    });
    await this.#deliverCommands(now, pending);
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    try {
      const frame = parseFrame(ws, message);
      if (frame) await this.#handleFrame(ws, frame);
    } catch (error) {
      // A bad frame or a failed write must never take the object (and its socket) down.
      console.error(JSON.stringify({ msg: "node frame failed", node_id: this.#state?.nodeId, error: String(error) }));
      send(ws, { type: "error", code: "internal_error", message: "The frame could not be handled; it was not stored." });
    }
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    const last = this.ctx.getWebSockets().every((other) => other === ws);
    if (this.#state) {
      // The socket's snapshot goes with it: keep the last-seen it carried (its last ping included)…
      this.#state = pinged(this.#state, this.#pingAt(ws));
      if (this.#state !== this.#persisted) await this.#persist(this.#state);
      // …and judge silence from it at the grace's end, not at the next look for open sockets.
      if (last) await this.#armAlarm(this.#state, Date.now(), false);
    }
    if (last) {
      // Nothing carries the chart's buffer any more.
      await this.#flushHistory();
      // The program that ran on it may be gone: no fix is verified on its run without a new heartbeat.
      // (A socket this object closed for a newer one leaves the newer one's run alone.)
      await this.#forgetRun();
    }
    // Complete the close handshake (hibernated sockets don't get the runtime's automatic reply),
    // echoing the node's code; 1005/1006/1015 are reserved and may not be sent.
    closeQuietly(ws, [1005, 1006, 1015].includes(code) ? 1000 : code, reason);
    // Nothing else at once: silence is judged by the alarm, so a bounce is not an outage.
  }

  override async webSocketError(_ws: WebSocket, error: unknown): Promise<void> {
    console.warn(JSON.stringify({ msg: "node socket error", node_id: this.#state?.nodeId, error: String(error) }));
  }

  async #handleFrame(ws: WebSocket, frame: NodeFrame): Promise<void> {
    const now = Date.now();
    switch (frame.type) {
      case "heartbeat": {
        const { type: _type, ...beat } = frame;
        if (this.#state && beat.node_id !== this.#state.nodeId) {
          ws.close(1008, "heartbeat names another node");
          return;
        }
        if (this.#state?.presence === "retired") return;
        await this.#recordHistory(beat, now); // before the update, which puts the buffer on the socket
        await this.#update(null, (state) => this.#seenWithBeat(state, now, beat, "ws"), now);
        await this.#checkExpectations(beat, now);
        await this.#watchRun(beat, now);
        logHeartbeat(beat, this.#heartbeatLogOneIn);
        send(ws, { type: "heartbeat_ack", at: new Date(now).toISOString() });
        return;
      }
      case "ping":
        if (this.#state) await this.#update(null, (state) => pinged(state, now), now);
        send(ws, { type: "pong" });
        return;
      case "going_away":
        await this.#update(null, goingAway, now);
        return;
      case "command_ack": {
        const known = await this.#commands.acknowledge(frame.id, { status: frame.status, detail: frame.detail, at: now });
        if (!known) send(ws, { type: "error", code: "unknown_command", message: `No command ${frame.id} is pending for this node.` });
        return;
      }
    }
  }

  // ── RPC for the rest of the Worker ──

  /**
   * The node was uninstalled (its key is already revoked): retired for good. Its socket is
   * closed, no alarm watches it any more (so no offline warning), and no command is queued for it.
   */
  async retire(identity: NodeIdentity, at: number): Promise<void> {
    // D1 already holds the revoked key: the next upgrade reads it there and is refused.
    await this.ctx.storage.delete(CREDENTIAL_KEY);
    await this.#update(identity, (state) => retire(state, at), at);
    for (const ws of this.ctx.getWebSockets()) closeQuietly(ws, 4003, "node retired");
  }

  /** The HTTP fallback for a node whose socket can't connect (it is degraded while on it). */
  async heartbeat(identity: NodeIdentity, beat: Heartbeat): Promise<LiveStatus> {
    const now = Date.now();
    if (this.#state?.presence === "retired") return this.status();
    await this.#recordHistory(beat, now);
    await this.#update(identity, (state) => this.#seenWithBeat(state, now, beat, "http"), now);
    await this.#checkExpectations(beat, now);
    return this.status();
  }

  /**
   * Queue a command; it goes out now if the node is connected, else on its next connect.
   * With an `id`, queuing the same command again is a no-op (triage retries rely on it).
   */
  async enqueueCommand(
    identity: NodeIdentity,
    command: { id?: string; type: CommandType; payloadJson: string; ttlSeconds: number },
  ): Promise<EnqueuedCommand> {
    const now = Date.now();
    if (!this.#state) await this.#update(identity, (state) => state, now);
    if (this.#state?.presence === "retired") {
      return { id: command.id ?? crypto.randomUUID(), expires_at: new Date(now).toISOString(), sent: false, retired: true };
    }
    const existing = command.id ? await this.#commands.get(command.id) : null;
    if (existing) return { id: existing.id, expires_at: new Date(existing.expiresAt).toISOString(), sent: existing.sendCount > 0 };
    const stored: StoredCommand = {
      id: command.id ?? crypto.randomUUID(),
      type: command.type,
      payloadJson: command.payloadJson,
      createdAt: now,
      expiresAt: now + command.ttlSeconds * 1000,
      sendCount: 0,
      firstSentAt: null,
      lastSentAt: null,
      ack: null,
    };
    await this.#commands.add(stored);
    const sent = await this.#deliverCommands(now);
    return { id: stored.id, expires_at: new Date(stored.expiresAt).toISOString(), sent: sent.includes(stored.id) };
  }

  /**
   * Triage asks to hear when this node runs a fix healthy: on `fixVersion` (if set) with
   * uptime of at least the healthy window, in a heartbeat at least that long after `since`.
   */
  async expectHealthy(identity: NodeIdentity, expectation: HealthExpectation): Promise<void> {
    const now = Date.now();
    if (!this.#state) await this.#update(identity, (state) => state, now);
    await this.ctx.storage.put(EXPECT_PREFIX + expectation.resolutionId, expectation);
    // Heartbeats read the cached list; a node already heartbeating must see this one too.
    if (this.#expectations !== null) {
      this.#expectations = [...this.#expectations.filter((e) => e.resolutionId !== expectation.resolutionId), expectation];
    }
    // A run already on the fix (it installed before triage finished) gets its window's end watched too.
    await this.#armWindowEnd(now);
  }

  /** The last 24 h of chart samples, oldest first. */
  async history(now = Date.now()): Promise<HistorySample[]> {
    return readHistory(this.ctx.storage, this.#samples, now);
  }

  async commands(): Promise<StoredCommand[]> {
    return this.#commands.all();
  }

  /** As of now: a node silent past the grace is judged here too, without waiting for the alarm's next look. */
  async status(): Promise<LiveStatus> {
    if (this.#state) {
      const now = Date.now();
      const pingAt = this.#lastPingAt();
      await this.#update(null, (state) => checkSilence(pinged(state, pingAt), now, this.#timing), now);
    }
    const state = this.#state;
    const beat = state?.heartbeat ?? null;
    return {
      status: state ? displayStatus(state) : "offline",
      connected: this.ctx.getWebSockets().length > 0,
      last_seen: state?.lastSeenAt ? new Date(state.lastSeenAt).toISOString() : null,
      version: beat?.version ?? null,
      uptime_s: beat ? Math.round(beat.uptime / 1000) : null,
      memory_mb: beat?.memory_mb ?? null,
      error_count: beat?.error_count ?? null,
      ws_failure_count: beat?.ws_failure_count ?? null,
      connection_state: beat?.connection_state ?? null,
      retired_at: state?.retiredAt ? new Date(state.retiredAt).toISOString() : null,
    };
  }

  // ── The dead man's switch ──

  override async alarm(): Promise<void> {
    this.#alarmAt = null; // a running alarm is no longer set
    if (!this.#state) return;
    const now = Date.now();
    this.#state = pinged(this.#state, this.#lastPingAt());
    await this.#verifyAtWindowEnd(now);
    await this.#update(null, (state) => checkSilence(state, now, this.#timing), now);
    await this.#armWindowEnd(now);
  }

  // ── Internals ──

  /** A heartbeat: the node is there, and if it says it just woke, its last outage may have been sleep. */
  #seenWithBeat(state: LiveState, now: number, beat: Heartbeat, via: "ws" | "http"): LiveState {
    const next = seen(state, now, { beat, via });
    return beat.asleep_for_ms === undefined ? next : sleptThrough(next, now, beat.asleep_for_ms, this.#timing);
  }

  /** Apply a change, tell D1 if it matters, persist, and keep the alarm armed while watching. */
  async #update(identity: NodeIdentity | null, change: (state: LiveState) => LiveState, now: number): Promise<void> {
    const current = this.#state ?? (identity ? initialState(identity.nodeId, identity.ownerId) : null);
    if (!current) throw new Error("node session used before it knew its node");
    let next = change(current);
    if (needsD1Sync(next, now, this.#timing)) next = await this.#syncD1(next, now);
    this.#state = next;
    if (worthPersisting(this.#persisted, next)) await this.#persist(next);
    this.#snapshotToSockets(next);
    await this.#armAlarm(next, now);
  }

  async #persist(state: LiveState): Promise<void> {
    await this.ctx.storage.put(STATE_KEY, state);
    this.#persisted = state;
  }

  /** Heartbeats that change nothing that matters ride on the socket's attachment: no storage write. */
  #snapshotToSockets(state: LiveState): void {
    const sockets = this.ctx.getWebSockets();
    if (sockets.length === 0) return;
    const attachment: SocketAttachment = {
      lastSeenAt: state.lastSeenAt,
      heartbeat: state.heartbeat,
      heartbeatAt: state.heartbeatAt,
      via: state.via,
      syncedAt: state.synced.at,
      samples: this.#samples,
      lastSampleAt: this.#lastSampleAt,
    };
    for (const ws of sockets) {
      try {
        ws.serializeAttachment(attachment);
      } catch {
        // closing; its close handler persists the state
      }
    }
  }

  #attachments(): SocketAttachment[] {
    return this.ctx.getWebSockets().flatMap((ws) => {
      const attachment = ws.deserializeAttachment() as SocketAttachment | null;
      return attachment ? [attachment] : [];
    });
  }

  /** When the runtime last answered a ping on `ws` (null: never). */
  #pingAt(ws: WebSocket): number | null {
    return this.ctx.getWebSocketAutoResponseTimestamp(ws)?.getTime() ?? null;
  }

  #lastPingAt(): number | null {
    const times = this.ctx.getWebSockets().flatMap((ws) => this.#pingAt(ws) ?? []);
    return times.length === 0 ? null : Math.max(...times);
  }

  async #syncD1(state: LiveState, now: number): Promise<LiveState> {
    const status = displayStatus(state);
    const version = state.heartbeat?.version ?? state.synced.version;
    try {
      const stored = await syncNodeStatus(
        database(ownerDatabase(this.env, state.ownerId)),
        {
          nodeId: state.nodeId,
          ownerId: state.ownerId,
          status,
          statusChanged: status !== state.synced.status,
          version,
          lastSeenAt: state.lastSeenAt,
          events: state.pendingEvents,
          sleepMarks: state.pendingSleepMarks,
        },
        now,
      );
      if (status !== state.synced.status || stored.version !== state.synced.version || state.pendingEvents.length > 0) {
        logStatusChange({
          nodeId: state.nodeId,
          status,
          previousStatus: state.synced.status,
          version: stored.version,
          events: state.pendingEvents.length,
        });
      }
      return { ...state, pendingEvents: [], pendingSleepMarks: [], synced: { status, version: stored.version, at: now } };
    } catch (error) {
      // Kept pending: the next heartbeat or the alarm (armed below) tries again.
      console.error(JSON.stringify({ msg: "node status sync failed", node_id: state.nodeId, error: String(error) }));
      return state;
    }
  }

  async #armAlarm(state: LiveState, now: number, socketOpen = this.ctx.getWebSockets().length > 0): Promise<void> {
    const retry = needsD1Sync(state, now, this.#timing) ? now + D1_RETRY_MS : null;
    const check = nextCheckAt(state, this.#timing, socketOpen, now);
    const wanted = [retry, check].filter((t): t is number => t !== null);
    if (wanted.length === 0) return;
    if (this.#alarmAt === undefined) this.#alarmAt = await this.ctx.storage.getAlarm();
    const current = this.#alarmAt;
    // Set only when there is none or it would fire too late (an alarm write each time): a look
    // that comes early finds the node seen since and sets the next one.
    const at = Math.min(...wanted);
    if (current === null || current > at) {
      await this.ctx.storage.setAlarm(at);
      this.#alarmAt = at;
    }
  }

  /** A chart sample for the first heartbeat in its slot, buffered until its row (an hour) is over (history.ts). */
  async #recordHistory(beat: Heartbeat, now: number): Promise<void> {
    if (!sampleDue(this.#lastSampleAt, now, this.#historySlotMs)) return;
    if (flushDue(this.#samples, now, this.#historySlotMs)) await this.#flushHistory();
    this.#samples = [...this.#samples, { at: now, memory_mb: beat.memory_mb, error_count: beat.error_count }];
    this.#lastSampleAt = now;
    // Over HTTP no socket carries the buffer through hibernation.
    if (this.ctx.getWebSockets().length === 0) await this.#flushHistory();
  }

  async #flushHistory(): Promise<void> {
    if (this.#samples.length === 0) return;
    if (!this.#legacyMoved) {
      await migrateLegacySamples(this.ctx.storage, Date.now(), this.#historySlotMs);
      this.#legacyMoved = true;
    }
    await writeSamples(this.ctx.storage, this.#samples, this.#historySlotMs);
    this.#samples = [];
  }

  async #loadExpectations(): Promise<HealthExpectation[]> {
    this.#expectations ??= [...(await this.ctx.storage.list<HealthExpectation>({ prefix: EXPECT_PREFIX })).values()];
    return this.#expectations;
  }

  /** Verified fixes are reported to D1 once; until then the expectation stays (kept in storage). */
  async #checkExpectations(beat: Heartbeat, now: number): Promise<void> {
    const expectations = await this.#loadExpectations();
    if (expectations.length === 0) return;
    const window = triageSettings(this.env).healthyWindowMs;
    await this.#verify(
      expectations.filter((e) => beat.uptime >= window && now - e.since >= window && runsFix(beat.version, e)),
      now,
    );
  }

  async #verify(met: HealthExpectation[], now: number): Promise<void> {
    if (met.length === 0) return;
    // Triage's tables are the fleet's (db/shards.ts).
    await verifyResolutions(
      fleetDatabase(this.env),
      met.map((e) => e.resolutionId),
      now,
    );
    await this.ctx.storage.delete(met.map((e) => EXPECT_PREFIX + e.resolutionId));
    this.#expectations = (this.#expectations ?? []).filter((e) => !met.includes(e));
  }

  // ── Verification at the window's end ──

  async #loadRun(): Promise<WatchedRun | null> {
    if (this.#run === undefined) this.#run = (await this.ctx.storage.get<WatchedRun>(RUN_KEY)) ?? null;
    return this.#run;
  }

  async #forgetRun(): Promise<void> {
    if ((await this.#loadRun()) === null) return;
    this.#run = null;
    await this.ctx.storage.delete(RUN_KEY);
  }

  /** A heartbeat on the socket while a fix waits: note its run (one write per run) and arm the window's end. */
  async #watchRun(beat: Heartbeat, now: number): Promise<void> {
    if ((await this.#loadExpectations()).length === 0) return;
    const startedAt = now - beat.uptime;
    const run = await this.#loadRun();
    if (run === null || run.version !== beat.version || Math.abs(run.startedAt - startedAt) > SAME_RUN_MS) {
      this.#run = { startedAt, version: beat.version };
      await this.ctx.storage.put(RUN_KEY, this.#run);
    }
    await this.#armWindowEnd(now);
  }

  /** When the watched run's health window ends for the first waiting fix it runs; null if none. */
  #windowEnd(run: WatchedRun, expectations: HealthExpectation[]): number | null {
    const window = triageSettings(this.env).healthyWindowMs;
    const ends = expectations.filter((e) => runsFix(run.version, e)).map((e) => Math.max(run.startedAt, e.since) + window);
    return ends.length === 0 ? null : Math.min(...ends);
  }

  /** The alarm no later than the watched run's window end (the silence check re-arms itself after it). */
  async #armWindowEnd(now: number): Promise<void> {
    const run = await this.#loadRun();
    if (run === null) return;
    const at = this.#windowEnd(run, await this.#loadExpectations());
    // A window already over was judged (or its run could not be vouched for): heartbeats take over.
    if (at === null || at <= now) return;
    if (this.#alarmAt === undefined) this.#alarmAt = await this.ctx.storage.getAlarm();
    if (this.#alarmAt === null || this.#alarmAt > at) {
      await this.ctx.storage.setAlarm(at);
      this.#alarmAt = at;
    }
  }

  /**
   * The alarm at a window's end: the fix is verified without waiting for another heartbeat when the
   * run that started on it is still the one on the socket: its socket never closed (a crash or a
   * restart closes it and forgets the run), the last heartbeat is of that run (same start), and
   * that heartbeat is not overdue. Anything less leaves it to the next heartbeat, as before.
   */
  async #verifyAtWindowEnd(now: number): Promise<void> {
    const run = await this.#loadRun();
    const state = this.#state;
    const beat = state?.heartbeat;
    if (run === null || !state || !beat || state.lastSeenAt === null || state.via !== "ws") return;
    if (this.ctx.getWebSockets().length === 0) return;
    const heardAt = state.heartbeatAt ?? state.lastSeenAt;
    const sameRun = beat.version === run.version && Math.abs(heardAt - beat.uptime - run.startedAt) <= SAME_RUN_MS;
    const onTime = now - state.lastSeenAt <= this.#timing.heartbeatIntervalMs + ON_TIME_SLACK_MS;
    if (!sameRun || !onTime) return;
    const window = triageSettings(this.env).healthyWindowMs;
    const expectations = await this.#loadExpectations();
    await this.#verify(
      expectations.filter((e) => runsFix(run.version, e) && now - run.startedAt >= window && now - e.since >= window),
      now,
    );
  }

  async #deliverCommands(now: number, deliverable?: StoredCommand[]): Promise<string[]> {
    const sockets = this.ctx.getWebSockets();
    if (sockets.length === 0) return [];
    const commands = deliverable ?? (await this.#commands.deliverable(now));
    for (const command of commands) for (const ws of sockets) send(ws, commandFrame(command));
    await this.#commands.markSent(commands, now);
    return commands.map((c) => c.id);
  }
}

/** Whether a program on `version` runs the fix the expectation waits for. */
function runsFix(version: string, expectation: HealthExpectation): boolean {
  return expectation.fixVersion === null || !isOlder(version, expectation.fixVersion);
}

/** A frame to act on, or null after answering a bad one (error frame or close with a reason). */
function parseFrame(ws: WebSocket, message: string | ArrayBuffer): NodeFrame | null {
  if (typeof message !== "string") {
    ws.close(1003, "binary frames are not supported; send JSON text");
    return null;
  }
  // UTF-8 takes at most 3 bytes per UTF-16 unit: encode only when the length alone can't tell.
  const tooLarge =
    message.length > MAX_FRAME_BYTES ||
    (message.length * 3 > MAX_FRAME_BYTES && new TextEncoder().encode(message).byteLength > MAX_FRAME_BYTES);
  if (tooLarge) {
    ws.close(1009, `frame larger than ${MAX_FRAME_BYTES} bytes`);
    return null;
  }
  let data: unknown;
  try {
    data = JSON.parse(message);
  } catch {
    send(ws, { type: "error", code: "invalid_json", message: "The frame is not valid JSON; nothing was stored." });
    return null;
  }
  const parsed = NodeFrameSchema.safeParse(data);
  if (!parsed.success) {
    const issues = describeIssues(parsed.error);
    send(ws, { type: "error", code: "invalid_frame", message: `The frame is not valid (${issues}); nothing was stored.` });
    return null;
  }
  return parsed.data;
}

function send(ws: WebSocket, frame: CloudFrame): void {
  try {
    ws.send(JSON.stringify(frame));
  } catch {
    // The socket is closing; the node will reconnect and get what it needs then.
  }
}

function closeQuietly(ws: WebSocket, code: number, reason: string): void {
  try {
    ws.close(code, reason);
  } catch {
    // already closed
  }
}
