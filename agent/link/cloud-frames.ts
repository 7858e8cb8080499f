/**
 * Reads a frame from the cloud. protocol/messages.ts types these (CloudFrame) but ships no
 * schema, and the node must not trust a frame's shape: a command with a missing payload must be
 * an error the node logs, not a crash. A frame of an unknown type is ignored (a newer cloud may
 * send things this version does not know), a malformed one of a known type is an error.
 * A command of a type this version does not know (a newer cloud's) is neither: the node answers
 * it "rejected" as unsupported, so the cloud settles it instead of sending it again and again.
 */
import { z } from "zod";
import { COMMAND_TYPES } from "../../protocol/index.ts";
import type { CloudFrame } from "../../protocol/index.ts";
import { describeIssues } from "../../protocol/errors.ts";

const CloudFrameSchema = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("welcome"),
    node_id: z.string(),
    heartbeat_interval_s: z
      .number()
      .positive()
      .max(24 * 3600),
    full_heartbeat_interval_s: z
      .number()
      .positive()
      .max(24 * 3600)
      .optional(),
    commands: z.number().int().nonnegative().max(10_000).optional(),
  }),
  z.object({ type: z.literal("heartbeat_ack"), at: z.string() }),
  z.object({ type: z.literal("pong") }),
  z.object({
    type: z.literal("command"),
    id: z.string().min(1).max(100),
    command: z.enum(COMMAND_TYPES),
    payload: z.record(z.string(), z.json()),
    expires_at: z.string(),
  }),
  z.object({ type: z.literal("error"), code: z.string(), message: z.string() }),
]);

export type ParsedCloudFrame =
  | { kind: "frame"; frame: CloudFrame }
  | { kind: "unknown"; type: string }
  /** A command frame whose command type this version does not know; id and type to ack it with. */
  | { kind: "unsupported_command"; id: string; command: string }
  | { kind: "invalid"; reason: string };

/** Enough of a command frame to answer it, whatever its command type. */
const CommandEnvelope = z.object({
  id: z.string().min(1).max(100),
  command: z.string().min(1).max(64),
});
const KNOWN_COMMANDS: ReadonlySet<string> = new Set(COMMAND_TYPES);

const KNOWN = new Set(["welcome", "heartbeat_ack", "pong", "command", "error"]);

export function parseCloudFrame(text: string): ParsedCloudFrame {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return { kind: "invalid", reason: "not JSON" };
  }
  const type = typeof data === "object" && data !== null && "type" in data ? data.type : undefined;
  if (typeof type !== "string") return { kind: "invalid", reason: "no type" };
  if (!KNOWN.has(type)) return { kind: "unknown", type };
  if (type === "command") {
    const envelope = CommandEnvelope.safeParse(data);
    if (envelope.success && !KNOWN_COMMANDS.has(envelope.data.command)) {
      return { kind: "unsupported_command", id: envelope.data.id, command: envelope.data.command };
    }
  }
  const parsed = CloudFrameSchema.safeParse(data);
  if (!parsed.success) {
    return { kind: "invalid", reason: describeIssues(parsed.error, type) };
  }
  return { kind: "frame", frame: parsed.data as CloudFrame };
}
