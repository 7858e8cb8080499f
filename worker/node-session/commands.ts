/**
 * A node's pending commands, kept in its Durable Object's storage until the
 * node acknowledges them or they expire. Sent when the node is connected,
 * resent on every reconnect until acknowledged; the node handles each id once.
 */
import type { CommandFrame, CommandType, Json } from "../../protocol/messages.ts";

export type CommandAck = { status: "done" | "failed" | "rejected"; detail?: string; at: number };

export type StoredCommand = {
  id: string;
  type: CommandType;
  /** JSON text: keeps the RPC types flat (a recursive JSON type defeats the stub's type inference). */
  payloadJson: string;
  createdAt: number;
  expiresAt: number;
  sendCount: number;
  /** When it first went out on a socket (absent on commands stored before this was kept). */
  firstSentAt?: number | null;
  lastSentAt: number | null;
  ack: CommandAck | null;
};

/** Acknowledged commands are kept this long as the node's command history. */
const HISTORY_MS = 7 * 24 * 3600 * 1000;
const PREFIX = "command:";

export class CommandStore {
  readonly #storage: DurableObjectStorage;

  constructor(storage: DurableObjectStorage) {
    this.#storage = storage;
  }

  async add(command: StoredCommand): Promise<void> {
    await this.#storage.put(PREFIX + command.id, command);
  }

  async get(id: string): Promise<StoredCommand | null> {
    return (await this.#storage.get<StoredCommand>(PREFIX + id)) ?? null;
  }

  async all(): Promise<StoredCommand[]> {
    const map = await this.#storage.list<StoredCommand>({ prefix: PREFIX });
    return [...map.values()].sort((a, b) => a.createdAt - b.createdAt);
  }

  /** Unacknowledged and unexpired, oldest first; expired ones are dropped on the way. */
  async deliverable(now: number): Promise<StoredCommand[]> {
    const commands = await this.all();
    const expired = commands.filter((c) => c.ack === null && c.expiresAt <= now);
    const stale = commands.filter((c) => c.ack !== null && now - c.ack.at > HISTORY_MS);
    if (expired.length + stale.length > 0) await this.#storage.delete([...expired, ...stale].map((c) => PREFIX + c.id));
    return commands.filter((c) => c.ack === null && c.expiresAt > now);
  }

  async markSent(commands: StoredCommand[], now: number): Promise<void> {
    if (commands.length === 0) return;
    const entries: Record<string, StoredCommand> = {};
    for (const c of commands)
      entries[PREFIX + c.id] = { ...c, sendCount: c.sendCount + 1, firstSentAt: c.firstSentAt ?? now, lastSentAt: now };
    await this.#storage.put(entries);
  }

  /** Records the first ack of a command; later duplicates change nothing. False if the id is unknown. */
  async acknowledge(id: string, ack: CommandAck): Promise<boolean> {
    const command = await this.#storage.get<StoredCommand>(PREFIX + id);
    if (!command) return false;
    if (command.ack === null) await this.#storage.put(PREFIX + id, { ...command, ack });
    return true;
  }
}

export function commandFrame(command: StoredCommand): CommandFrame {
  return {
    type: "command",
    id: command.id,
    command: command.type,
    payload: JSON.parse(command.payloadJson) as Record<string, Json>,
    expires_at: new Date(command.expiresAt).toISOString(),
  };
}
