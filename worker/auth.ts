/**
 * Who is calling: a node (x-node-key), IT Support (the ADMIN_TOKEN bearer) or
 * an owner (their dashboard token); in a browser, IT Support and owners may
 * send a dashboard session cookie instead of a bearer (session.ts). Each middleware answers 401 on its own and
 * leaves the caller's identity in the context for handlers and the log.
 */
import { createMiddleware } from "hono/factory";
import { NODE_KEY_HEADER } from "../protocol/headers.ts";
import { DASHBOARD_TOKEN_PREFIX, NODE_KEY_PREFIX, parseCredential } from "./credentials.ts";
import { matchesHash, secretsEqual, sha256Hex } from "./crypto.ts";
import { database } from "./db/client.ts";
import { fleetDatabase } from "./db/shards.ts";
import { findNode } from "./db/nodes.ts";
import { findOwner } from "./db/owners.ts";
import type { Env, NodeVariables, Viewer, ViewerVariables } from "./env.ts";
import { ApiError } from "./http/errors.ts";
import { cachedNode, rememberNode } from "./node-key-cache.ts";
import { sessionViewer } from "./session.ts";

export const requireNode = createMiddleware<{ Bindings: Env; Variables: NodeVariables }>(async (c, next) => {
  const key = c.req.header(NODE_KEY_HEADER);
  const node = key ? await verifyNodeKey(c.env, key) : null;
  if (!node) throw nodeKeyRefused(key);
  c.set("nodeId", node.nodeId);
  c.set("ownerId", node.ownerId);
  await next();
});

/** 401 for a missing key, and the same 401 for "no such node" and "wrong secret", so keys can't be probed. */
export function nodeKeyRefused(key: string | undefined): ApiError {
  return key
    ? new ApiError(401, "node_key_invalid", "The node key is not valid; enroll this node again.")
    : new ApiError(401, "node_key_missing", `Send the node key in the ${NODE_KEY_HEADER} header.`);
}

async function verifyNodeKey(env: Env, key: string): Promise<{ nodeId: string; ownerId: string } | null> {
  const presented = await presentedNodeKey(key);
  if (!presented) return null;
  const { nodeId, secretHash } = presented;
  const now = Date.now();
  const cached = cachedNode(nodeId, secretHash, now);
  if (cached) return cached;
  const node = await findNode(database(fleetDatabase(env)), nodeId);
  if (!node || !(await secretsEqual(secretHash, node.keyHash))) return null;
  rememberNode(node.id, node.ownerId, secretHash, now);
  return { nodeId: node.id, ownerId: node.ownerId };
}

/** The node a well-formed key names and its secret's SHA-256, not yet checked against anything. */
export async function presentedNodeKey(key: string | undefined): Promise<{ nodeId: string; secretHash: string } | null> {
  const credential = key ? parseCredential(NODE_KEY_PREFIX, key) : null;
  return credential && { nodeId: credential.id, secretHash: await sha256Hex(credential.secret) };
}

export const requireAdmin = createMiddleware<{ Bindings: Env; Variables: ViewerVariables }>(async (c, next) => {
  // A browser signed in to the dashboard sends its session cookie instead of a bearer.
  const header = c.req.header("authorization");
  if (header === undefined && (await sessionViewer(c, c.env))?.kind === "admin") {
    c.set("viewer", { kind: "admin" });
    return next();
  }
  if (!(await isAdmin(c.env, bearerToken(header)))) {
    throw new ApiError(401, "admin_token_invalid", "Send the admin token as Authorization: Bearer <ADMIN_TOKEN>.");
  }
  c.set("viewer", { kind: "admin" });
  await next();
});

/** Dashboard reads: IT Support sees every node, an owner only their own. */
export const requireViewer = createMiddleware<{ Bindings: Env; Variables: ViewerVariables & { ownerId?: string } }>(async (c, next) => {
  const header = c.req.header("authorization");
  // A dashboard session sees exactly what its bearer token would.
  const session = header === undefined ? await sessionViewer(c, c.env) : null;
  const viewer: Viewer | null = session ? plainViewer(session) : await viewerFor(c.env, bearerToken(header));
  if (!viewer) {
    throw new ApiError(401, "token_invalid", "Send your dashboard token (or the admin token) as Authorization: Bearer <token>.");
  }
  c.set("viewer", viewer);
  if (viewer.kind === "owner") c.set("ownerId", viewer.ownerId);
  await next();
});

function plainViewer(viewer: Viewer): Viewer {
  return viewer.kind === "owner" ? { kind: "owner", ownerId: viewer.ownerId } : { kind: "admin" };
}

async function viewerFor(env: Env, token: string | null): Promise<Viewer | null> {
  if (!token) return null;
  const credential = parseCredential(DASHBOARD_TOKEN_PREFIX, token);
  if (!credential) return (await isAdmin(env, token)) ? { kind: "admin" } : null;
  const owner = await findOwner(database(fleetDatabase(env)), credential.id);
  if (!owner || !(await matchesHash(credential.secret, owner.dashboardTokenHash))) return null;
  return { kind: "owner", ownerId: owner.id };
}

async function isAdmin(env: Env, token: string | null): Promise<boolean> {
  // An unset ADMIN_TOKEN must lock the admin API, not open it to an empty bearer.
  if (!env.ADMIN_TOKEN) throw new ApiError(503, "admin_token_unset", "The edge has no ADMIN_TOKEN configured.");
  return token !== null && (await secretsEqual(token, env.ADMIN_TOKEN));
}

function bearerToken(header: string | undefined): string | null {
  const match = header?.match(/^Bearer\s+(\S+)\s*$/i);
  return match?.[1] ?? null;
}
