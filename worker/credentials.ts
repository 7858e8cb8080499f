/**
 * Bearer credentials carry the id of what they open (`<prefix>.<id>.<secret>`),
 * so the edge finds the row by primary key and then compares the secret's hash
 * in constant time, instead of searching by a hash that an attacker can vary.
 */
import { randomSecret } from "./crypto.ts";

export const NODE_KEY_PREFIX = "bnk";
export const DASHBOARD_TOKEN_PREFIX = "bdt";

export type Credential = { id: string; secret: string };

export function makeCredential(prefix: string, id: string): Credential & { token: string } {
  const secret = randomSecret();
  return { id, secret, token: `${prefix}.${id}.${secret}` };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The id and secret of a well-formed token with this prefix, or null. */
export function parseCredential(prefix: string, token: string): Credential | null {
  const [p, id, secret, ...rest] = token.split(".");
  if (p !== prefix || !id || !secret || rest.length > 0 || !UUID.test(id) || secret.length < 22) return null;
  return { id, secret };
}
