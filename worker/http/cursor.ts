/** Opaque page cursors: base64url of `[created_at_ms, id]`, checked on the way back in. */
import type { TelemetryCursor } from "../db/telemetry.ts";

export function encodeCursor(cursor: TelemetryCursor): string {
  return btoa(JSON.stringify([cursor.createdAt, cursor.id])).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

export function decodeCursor(raw: string): TelemetryCursor | null {
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
