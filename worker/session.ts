/**
 * Dashboard sign-in without passwords, and the session cookie it leads to.
 *
 * - An owner gets a sign-in link (`/auth/link/bsl.<id>.<secret>`): 15 minutes, single use,
 *   only the secret's SHA-256 stored. Opening it shows a button; only the POST spends it, so
 *   a mail scanner that fetches the link does not sign anyone in or burn the link.
 * - IT Support signs in once with the admin token on a form.
 * - Either way the browser gets `__Host-buhdi-session=bds.<id>.<secret>`: HttpOnly, Secure,
 *   Path=/, SameSite=Lax for owners (the link arrives from a mail app), Strict for IT Support.
 *   The row holds the secret's SHA-256 and an expiry; signing out revokes it.
 */
import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { makeCredential, parseCredential } from "./credentials.ts";
import { matchesHash, sha256Hex } from "./crypto.ts";
import { database } from "./db/client.ts";
import { fleetDatabase } from "./db/shards.ts";
import { findSession, insertSession, revokeSession } from "./db/sessions.ts";
import type { Env, Viewer } from "./env.ts";

/** Sent as `__Host-buhdi-session` (hono adds the prefix and enforces Secure, Path=/, no Domain). */
export const SESSION_COOKIE = "buhdi-session";
export const SESSION_PREFIX = "bds";
export const SIGN_IN_PREFIX = "bsl";
export const SIGN_IN_TTL_MS = 15 * 60_000;
/** An owner stays signed in for 30 days; IT Support for 8 hours (a working day). */
export const SESSION_TTL_MS = { owner: 30 * 24 * 3600_000, admin: 8 * 3600_000 } as const;

export type SessionViewer = Viewer & { sessionId: string };

/** `c` only carries the cookie in and out; the database is `env`'s. */
export async function startSession(c: Context, env: Env, viewer: Viewer, now = Date.now()): Promise<void> {
  const credential = makeCredential(SESSION_PREFIX, crypto.randomUUID());
  const expiresAt = new Date(now + SESSION_TTL_MS[viewer.kind]);
  await insertSession(database(fleetDatabase(env)), {
    id: credential.id,
    kind: viewer.kind,
    ownerId: viewer.kind === "owner" ? viewer.ownerId : null,
    secretHash: await sha256Hex(credential.secret),
    expiresAt,
  });
  setCookie(c, SESSION_COOKIE, credential.token, {
    path: "/",
    secure: true,
    httpOnly: true,
    sameSite: viewer.kind === "admin" ? "Strict" : "Lax",
    expires: expiresAt,
    prefix: "host",
  });
}

/** The viewer behind the request's session cookie, or null (none, malformed, unknown, expired, revoked). */
export async function sessionViewer(c: Context, env: Env): Promise<SessionViewer | null> {
  const cookie = getCookie(c, SESSION_COOKIE, "host");
  if (!cookie) return null;
  const credential = parseCredential(SESSION_PREFIX, cookie);
  if (!credential) return null;
  const row = await findSession(database(fleetDatabase(env)), credential.id);
  if (!row || row.revokedAt !== null || row.expiresAt.getTime() <= Date.now()) return null;
  if (!(await matchesHash(credential.secret, row.secretHash))) return null;
  if (row.kind === "owner") return row.ownerId ? { kind: "owner", ownerId: row.ownerId, sessionId: row.id } : null;
  return { kind: "admin", sessionId: row.id };
}

export async function endSession(c: Context, env: Env): Promise<void> {
  const viewer = await sessionViewer(c, env);
  if (viewer) await revokeSession(database(fleetDatabase(env)), viewer.sessionId, new Date());
  deleteCookie(c, SESSION_COOKIE, { path: "/", secure: true, prefix: "host" });
}
