/**
 * Secrets made and checked by the edge: node keys, dashboard tokens,
 * enrollment codes. Only SHA-256 digests are stored; comparisons are
 * constant-time so a response's timing says nothing about a stored secret.
 */

/** 32 random bytes, base64url: 256 bits, comfortably over the 128 asked for. */
export function randomSecret(): string {
  return base64url(crypto.getRandomValues(new Uint8Array(32)));
}

export async function sha256Hex(text: string): Promise<string> {
  return toHex(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

/** Lowercase hex, two digits a byte: digests, MACs and key ids as they are stored and sent. */
export function toHex(bytes: ArrayBuffer | Uint8Array): string {
  return Array.from(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Constant-time equality of two secrets, by comparing their fixed-length digests. */
export async function secretsEqual(a: string, b: string): Promise<boolean> {
  const [da, db] = await Promise.all([digest(a), digest(b)]);
  return crypto.subtle.timingSafeEqual(da, db);
}

/** Constant-time comparison of a presented secret against a stored SHA-256 hex digest. */
export async function matchesHash(secret: string, storedHex: string): Promise<boolean> {
  return secretsEqual(await sha256Hex(secret), storedHex);
}

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/** 16 Crockford base32 characters (80 bits) as XXXX-XXXX-XXXX-XXXX: readable aloud, no 0/O or 1/I mix-ups. */
export function enrollmentCode(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  const chars = [...bytes].map((b) => CROCKFORD[b & 31]).join("");
  return chars.match(/.{4}/g)!.join("-");
}

function digest(text: string): Promise<ArrayBuffer> {
  return crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
}

function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}
