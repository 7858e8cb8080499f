/**
 * The release keys this node trusts: an update is installed only if its manifest is signed by
 * one of them (protocol/release.ts). More than one may be pinned, so a key can be rotated (ship
 * a build that trusts old + new, start signing with new, drop old) or retired after a compromise.
 *
 * PINNED_RELEASE_KEYS is compiled into every build. It is empty until the first production key
 * exists: `npm run release:keygen` makes one and prints the line to paste here. With no key
 * pinned, every update is refused ("unknown key"), which is the safe failure.
 *
 * BUHDI_NODE_TRUSTED_KEYS (JSON: [{key_id, public_key}]) adds keys for development and tests.
 * It is no weaker than the threat model: it is read from the agent's own environment, and
 * whoever can set that environment can already run any code as the agent (NODE_OPTIONS
 * --import, a different BUHDI_NODE_HOME, or simply another program in its place). The update
 * channel defends against the network and the cloud, not against the owner of the process.
 *
 * A key_id must be what the key is (first 8 bytes of SHA-256 over the raw 32-byte key): an entry
 * whose id does not match its key is a paste error, and is dropped with a log line rather than
 * trusted under the wrong name.
 */
import { createHash, createPublicKey } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { z } from "zod";
import { KeyIdSchema } from "../../protocol/index.ts";
import { messageOf } from "../core/errors.ts";
import { describeIssues } from "../../protocol/errors.ts";

export type TrustedKey = { key_id: string; public_key: string };

/** Production release keys (base64 of the raw 32-byte Ed25519 public key). */
export const PINNED_RELEASE_KEYS: readonly TrustedKey[] = [
  // { key_id: "…16 hex…", public_key: "…base64…" },  ← `npm run release:keygen` prints this line
];

export const TRUSTED_KEYS_ENV = "BUHDI_NODE_TRUSTED_KEYS";

const TrustedKeySchema = z.object({
  key_id: KeyIdSchema,
  public_key: z.string().regex(/^[A-Za-z0-9+/]{43}=$/, "must be base64 of a 32-byte Ed25519 public key"),
});

/** key_id → public key. */
export type Keyring = ReadonlyMap<string, KeyObject>;

/** The key id of a raw 32-byte Ed25519 public key. */
export function keyIdOf(rawPublicKey: Uint8Array): string {
  return createHash("sha256").update(rawPublicKey).digest().subarray(0, 8).toString("hex");
}

/** The raw 32 bytes of an Ed25519 public key (what key ids and trusted-keys entries are made of). */
export function rawPublicKey(key: KeyObject): Buffer {
  const jwk = key.export({ format: "jwk" });
  if (jwk.crv !== "Ed25519" || typeof jwk.x !== "string") throw new TypeError("not an Ed25519 key");
  return Buffer.from(jwk.x, "base64url");
}

function publicKeyFromRaw(raw: Buffer): KeyObject {
  return createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: raw.toString("base64url") }, format: "jwk" });
}

export function buildKeyring(entries: readonly unknown[], log: (message: string) => void): Keyring {
  const ring = new Map<string, KeyObject>();
  for (const entry of entries) {
    const parsed = TrustedKeySchema.safeParse(entry);
    if (!parsed.success) {
      log(`ignored a trusted release key: ${describeIssues(parsed.error, "key")}`);
      continue;
    }
    const raw = Buffer.from(parsed.data.public_key, "base64");
    const actual = keyIdOf(raw);
    if (actual !== parsed.data.key_id) {
      log(`ignored trusted release key ${parsed.data.key_id}: that key's id is ${actual}`);
      continue;
    }
    try {
      ring.set(actual, publicKeyFromRaw(raw));
    } catch (error) {
      log(`ignored trusted release key ${actual}: ${messageOf(error)}`);
    }
  }
  return ring;
}

/** The pinned keys plus BUHDI_NODE_TRUSTED_KEYS (see the header for why that is allowed). */
export function loadKeyring(env: NodeJS.ProcessEnv, log: (message: string) => void): Keyring {
  const extra: unknown[] = [];
  const text = env[TRUSTED_KEYS_ENV]?.trim();
  if (text) {
    try {
      const value: unknown = JSON.parse(text);
      if (Array.isArray(value)) extra.push(...(value as unknown[]));
      else log(`${TRUSTED_KEYS_ENV} must be a JSON array of {key_id, public_key}; ignored`);
    } catch {
      log(`${TRUSTED_KEYS_ENV} is not valid JSON; ignored`);
    }
  }
  return buildKeyring([...PINNED_RELEASE_KEYS, ...extra], log);
}
