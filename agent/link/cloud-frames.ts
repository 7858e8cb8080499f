/**
 * Reads a frame from the cloud. protocol/messages.ts types these (CloudFrame) but ships no
 * schema, and the node must not trust a frame's shape: a command with a missing payload must be
 * an error the node logs, not a crash. A frame of an unknown type is ignored (a newer cloud may
 * send things this version does not know), a malformed one of a known type is an error.
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
    commands: z.number().int().nonnegative().max(10_000).optional(),
  }),
  z.object({ type: z.literal("heartbeat_ack"), at: z.string() }),
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
  | { kind: "invalid"; reason: string };

const KNOWN = new Set(["welcome", "heartbeat_ack", "command", "error"]);

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
  const parsed = CloudFrameSchema.safeParse(data);
  if (!parsed.success) {
    return { kind: "invalid", reason: describeIssues(parsed.error, type) };
  }
  return { kind: "frame", frame: parsed.data as CloudFrame };
}
