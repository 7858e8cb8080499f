/**
 * A node's key as its Durable Object checks it on every upgrade: the hash and owner D1 held when
 * the object first needed them, kept in the object's storage. A reconnect (after an edge restart
 * or a deploy, the whole fleet at once) then costs no D1 read. Safe to keep because a node's key
 * never changes in D1 except by retirement, and retirement goes through this object, which drops
 * what it kept (node-retire.ts).
 */
import { secretsEqual } from "../crypto.ts";
import { database } from "../db/client.ts";
import { findNode } from "../db/nodes.ts";

export type NodeCredential = { keyHash: string; ownerId: string };

export const CREDENTIAL_KEY = "credential";

/**
 * What D1 holds for the node, stored once. Kept also when the presented key did not match: a flood
 * of wrong keys for a real node reads D1 once. Nothing is stored for a node D1 does not know.
 */
export async function loadCredential(storage: DurableObjectStorage, db: D1Database, nodeId: string): Promise<NodeCredential | null> {
  const stored = await storage.get<NodeCredential>(CREDENTIAL_KEY);
  if (stored) return stored;
  const node = await findNode(database(db), nodeId);
  if (!node) return null;
  const credential = { keyHash: node.keyHash, ownerId: node.ownerId };
  await storage.put(CREDENTIAL_KEY, credential);
  return credential;
}

/** The owner, when the presented secret's hash matches the node's key (compared in constant time). */
export async function ownerIfKeyMatches(credential: NodeCredential | null, presentedHash: string): Promise<string | null> {
  if (!credential) return null;
  return (await secretsEqual(presentedHash, credential.keyHash)) ? credential.ownerId : null;
}
