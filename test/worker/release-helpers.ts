/** A signing key, signed manifests and bundles in R2, made the way the release pipeline makes them. */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import worker from "../../worker/index.ts";
import { toHex } from "../../worker/crypto.ts";
import { keyIdOf } from "../../worker/releases/signature.ts";
import { BASE } from "./helpers.ts";

export type SigningKey = { keyId: string; publicKey: string; privateKey: CryptoKey };

const b64 = (bytes: ArrayBuffer | Uint8Array) => btoa(String.fromCharCode(...new Uint8Array(bytes)));

export async function signingKey(): Promise<SigningKey> {
  const pair = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"])) as CryptoKeyPair;
  const raw = new Uint8Array((await crypto.subtle.exportKey("raw", pair.publicKey)) as ArrayBuffer);
  return { keyId: await keyIdOf(raw), publicKey: b64(raw), privateKey: pair.privateKey };
}

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  return toHex(await crypto.subtle.digest("SHA-256", bytes));
}

export async function publishBundle(version: string, bytes: Uint8Array): Promise<void> {
  await env.RELEASES.put(`bundles/${version}/buhdi-node.mjs`, bytes);
}

export async function signedManifest(key: SigningKey, bytes: Uint8Array, overrides: Record<string, unknown> = {}) {
  const manifest = JSON.stringify({
    version: "0.3.1",
    channel: "stable",
    sha256: await sha256Hex(bytes),
    size: bytes.byteLength,
    created_at: new Date().toISOString(),
    expires_at: new Date(Date.now() + 30 * 86_400_000).toISOString(),
    ...overrides,
  });
  const signature = b64(await crypto.subtle.sign("Ed25519", key.privateKey, new TextEncoder().encode(manifest)));
  return { manifest, signature, key_id: key.keyId };
}

/** The Worker with the edge trusting `keys` (RELEASE_PUBLIC_KEYS), as deployed config would say. */
export async function callTrusting(
  keys: SigningKey[],
  path: string,
  init: RequestInit = {},
  extra: Partial<Cloudflare.Env> = {},
): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(
    new Request(`${BASE}${path}`, init),
    { ...env, RELEASE_PUBLIC_KEYS: JSON.stringify(keys.map((k) => ({ key_id: k.keyId, public_key: k.publicKey }))), ...extra },
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return res;
}

export function bundleOf(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}
