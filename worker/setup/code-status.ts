/**
 * What the setup page needs to know about a code, read without spending it: a GET of the page
 * or of an installer never marks the code used (only POST /api/enroll does).
 */
import { eq } from "drizzle-orm";
import { ENROLLMENT_CODE_PATTERN } from "../../protocol/enrollment.ts";
import { sha256Hex } from "../crypto.ts";
import type { Database } from "../db/client.ts";
import { enrollmentCodes } from "../db/schema.ts";

export type CodeStatus = { state: "valid"; nodeName: string; expiresAt: Date } | { state: "malformed" | "unknown" | "used" | "expired" };

/** Codes are typed by people: trimmed and upper-cased the way POST /api/enroll does. */
export function normalizeCode(raw: string): string | null {
  const code = raw.trim().toUpperCase();
  return ENROLLMENT_CODE_PATTERN.test(code) ? code : null;
}

export async function codeStatus(db: Database, code: string | null, now = Date.now()): Promise<CodeStatus> {
  if (code === null) return { state: "malformed" };
  const row = await db.query.enrollmentCodes.findFirst({ where: eq(enrollmentCodes.codeHash, await sha256Hex(code)) });
  if (!row) return { state: "unknown" };
  if (row.usedAt) return { state: "used" };
  if (row.expiresAt.getTime() <= now) return { state: "expired" };
  return { state: "valid", nodeName: row.nodeName, expiresAt: row.expiresAt };
}
