/**
 * Release signing keys on disk: Ed25519 private keys as PKCS#8 PEM under
 * .keys/ (git-ignored). A key's id is the first 8 bytes of SHA-256 over its raw
 * 32-byte public key, in hex — the same id the edge and the agents use.
 */
import { createPrivateKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { keyIdOf, rawPublicKey } from "../agent/update/trusted-keys.ts";
import { REPO_ROOT } from "./local-edge.ts";

export const KEYS_DIR = path.join(REPO_ROOT, ".keys");

export type ReleaseKey = { keyId: string; publicKey: string; privateKey: KeyObject };

// One definition of a key id, the agent's: the pipeline must name keys exactly as nodes do.
export { keyIdOf, rawPublicKey } from "../agent/update/trusted-keys.ts";

export function loadReleaseKey(file: string): ReleaseKey {
  const privateKey = createPrivateKey(readFileSync(file));
  const raw = rawPublicKey(privateKey);
  return { keyId: keyIdOf(raw), publicKey: raw.toString("base64"), privateKey };
}

/** A fresh key kept only in memory: for a run that signs its own releases (the demo, tests). */
export function newReleaseKey(): ReleaseKey {
  const { privateKey } = generateKeyPairSync("ed25519");
  const raw = rawPublicKey(privateKey);
  return { keyId: keyIdOf(raw), publicKey: raw.toString("base64"), privateKey };
}

/** Every release key in .keys/ (for `npm start`, which tells the local edge to trust them). */
export function localReleaseKeys(dir = KEYS_DIR): ReleaseKey[] {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith(".pem"));
  } catch {
    return [];
  }
  return files.map((f) => loadReleaseKey(path.join(dir, f)));
}

/** The RELEASE_PUBLIC_KEYS value for these keys. */
export function trustedKeysVar(keys: ReleaseKey[]): string {
  return JSON.stringify(keys.map((k) => ({ key_id: k.keyId, public_key: k.publicKey })));
}
