/**
 * Ed25519 checks on the edge: a release is registered only if its manifest is
 * signed by a key the edge trusts (RELEASE_PUBLIC_KEYS), the same keys the
 * agents pin. The agents verify again; this catches a bad release before any
 * node spends a download on it.
 */
import { z } from "zod";
import { KeyIdSchema } from "../../protocol/release.ts";
import { toHex } from "../crypto.ts";

const TrustedKeysSchema = z.array(z.object({ key_id: KeyIdSchema, public_key: z.string().min(40).max(60) }));
export type TrustedKey = z.output<typeof TrustedKeysSchema>[number];

/** RELEASE_PUBLIC_KEYS: a JSON array of {key_id, public_key (base64 of the raw 32 bytes)}. */
export function trustedKeys(json: string | undefined): TrustedKey[] {
  if (!json) return [];
  const parsed = TrustedKeysSchema.safeParse(JSON.parse(json));
  if (!parsed.success) throw new Error("RELEASE_PUBLIC_KEYS is not a JSON array of {key_id, public_key}");
  return parsed.data;
}

export async function keyIdOf(rawPublicKey: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", rawPublicKey));
  return toHex(digest.slice(0, 8));
}

export type SignatureCheck = { ok: true } | { ok: false; reason: string };

export async function verifyManifestSignature(
  keys: TrustedKey[],
  keyId: string,
  manifest: string,
  signature: string,
): Promise<SignatureCheck> {
  const key = keys.find((k) => k.key_id === keyId);
  if (!key) return { ok: false, reason: `key ${keyId} is not one of the edge's trusted release keys` };
  const raw = fromBase64(key.public_key);
  if (raw.byteLength !== 32 || (await keyIdOf(raw)) !== keyId) {
    return { ok: false, reason: `trusted key ${keyId} does not match its public key (check RELEASE_PUBLIC_KEYS)` };
  }
  const publicKey = await crypto.subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]);
  const valid = await crypto.subtle.verify("Ed25519", publicKey, fromBase64(signature), new TextEncoder().encode(manifest));
  return valid ? { ok: true } : { ok: false, reason: "the signature does not verify against the manifest" };
}

function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}
