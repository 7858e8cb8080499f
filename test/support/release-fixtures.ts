/**
 * Releases for the update tests, made the way the real pipeline makes them: an Ed25519 key
 * generated per test file, a manifest signed over its exact JSON text, and the environment that
 * makes a node trust that key (BUHDI_NODE_TRUSTED_KEYS). Attacks are built from the same
 * pieces with one thing wrong.
 */
import { createHash, sign } from "node:crypto";
import type { KeyObject } from "node:crypto";
import type { ReleaseManifest, SignedRelease } from "../../protocol/index.ts";
import { TRUSTED_KEYS_ENV } from "../../agent/update/trusted-keys.ts";
import { newReleaseKey } from "../../scripts/release-key.ts";

export type TestKey = { keyId: string; publicKey: string; privateKey: KeyObject };

/** Made the way the demo and the release tools make one (scripts/release-key.ts). */
export const testKey: () => TestKey = newReleaseKey;

/** The environment that makes a node trust these keys. */
export function trustEnv(...keys: TestKey[]): Record<string, string> {
  return { [TRUSTED_KEYS_ENV]: JSON.stringify(keys.map((k) => ({ key_id: k.keyId, public_key: k.publicKey }))) };
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

const DAY = 24 * 3600 * 1000;

/** A manifest for these bytes, valid for a day from now unless told otherwise. */
export function manifestFor(bytes: Uint8Array, fields: Partial<ReleaseManifest> & { version: string }): ReleaseManifest {
  return {
    channel: "stable",
    sha256: sha256Hex(bytes),
    size: bytes.length,
    created_at: new Date(Date.now() - 60_000).toISOString(),
    expires_at: new Date(Date.now() + DAY).toISOString(),
    ...fields,
  };
}

/** Signs the manifest's exact JSON text with `key`; `keyId` may claim another key's id. */
export function signRelease(manifest: ReleaseManifest | string, key: TestKey, options: { keyId?: string } = {}): SignedRelease {
  const text = typeof manifest === "string" ? manifest : JSON.stringify(manifest);
  const version = (JSON.parse(text) as { version: string }).version;
  return {
    manifest: text,
    signature: sign(null, Buffer.from(text, "utf8"), key.privateKey).toString("base64"),
    key_id: options.keyId ?? key.keyId,
    download_path: `/api/node/releases/${version}/bundle`,
  };
}
