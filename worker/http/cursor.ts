/**
 * Page cursors on the wire: opaque base64url of `[created_at_ms, id]`, checked
 * on the way back in, and the `limit`/`cursor` query parameters every list shares.
 */
import { z } from "zod";
import type { PageCursor } from "../db/page.ts";
import { ApiError } from "./errors.ts";

export const PageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(200).optional(),
});

export function encodeCursor(cursor: PageCursor): string {
  return btoa(JSON.stringify([cursor.createdAt, cursor.id]))
    .replaceAll("+", "-")
    .replaceAll("/", "_")
    .replace(/=+$/, "");
}

/** The cursor a previous page handed out, or a 400 naming the parameter. */
export function decodeCursor(raw: string | undefined): PageCursor | undefined {
  if (raw === undefined) return undefined;
  const cursor = parse(raw);
  if (!cursor) {
    throw new ApiError(400, "invalid_query", "The request query is not valid: cursor: not a cursor from a previous page.", {
      issues: [{ path: "cursor", message: "not a cursor from a previous page" }],
    });
  }
  return cursor;
}

function parse(raw: string): PageCursor | null {
  try {
    const value: unknown = JSON.parse(atob(raw.replaceAll("-", "+").replaceAll("_", "/")));
    if (!Array.isArray(value) || value.length !== 2) return null;
    const [createdAt, id] = value as unknown[];
    if (typeof createdAt !== "number" || !Number.isSafeInteger(createdAt) || typeof id !== "string" || id.length > 64) return null;
    return { createdAt, id };
  } catch {
    return null;
  }
}
