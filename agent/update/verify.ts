/**
 * Decides whether a SignedRelease (a SOFTWARE_UPDATE command's payload) may be installed, before
 * a single byte of the bundle is fetched. Pure: keys, clock, running version and the versions
 * this node rolled back from are parameters. In order, each refusal with its own code:
 *   bad_payload         not a SignedRelease (protocol/release.ts)
 *   unknown_key         key_id is none of the pinned keys (trusted-keys.ts)
 *   bad_signature       Ed25519 over the manifest text's UTF-8 bytes does not verify
 *   bad_manifest        signed, but not a ReleaseManifest (a release-pipeline bug)
 *   too_big             size above MAX_BUNDLE_BYTES (endless data, refused before download)
 *   expired             expires_at is not in the future (freeze attack)
 *   not_newer           not newer than the running version (downgrade, replayed old manifest)
 *   rolled_back_before  this node rolled back from that version once; never again
 * The signature is checked before the manifest is even parsed: nothing unsigned is interpreted.
 */
import { verify } from "node:crypto";
import { MAX_BUNDLE_BYTES, ReleaseManifestSchema, SignedReleaseSchema, VersionSchema, compareVersions } from "../../protocol/index.ts";
import type { ReleaseManifest, SignedRelease } from "../../protocol/index.ts";
import type { Keyring } from "./trusted-keys.ts";
import { describeIssues } from "../../protocol/errors.ts";

export const REFUSAL_CODES = [
  "bad_payload",
  "unknown_key",
  "bad_signature",
  "bad_manifest",
  "too_big",
  "expired",
  "not_newer",
  "rolled_back_before",
] as const;
export type VerifyRefusalCode = (typeof REFUSAL_CODES)[number];

/** version: the manifest's (for a refusal before the signature is checked: what it claims, if readable). */
export type Refusal<Code extends string = string> = { code: Code; reason: string; version: string | null };

export type VerifiedRelease = { release: SignedRelease; manifest: ReleaseManifest };

export type VerifyContext = {
  keys: Keyring;
  now: number;
  runningVersion: string;
  rolledBack: ReadonlySet<string>;
};

export function verifyRelease(
  payload: unknown,
  context: VerifyContext,
): { ok: true; value: VerifiedRelease } | { ok: false; refusal: Refusal<VerifyRefusalCode> } {
  const refuse = (code: VerifyRefusalCode, reason: string, version: string | null) => ({
    ok: false as const,
    refusal: { code, reason, version },
  });

  const parsed = SignedReleaseSchema.safeParse(payload);
  if (!parsed.success) {
    const issues = describeIssues(parsed.error, "payload");
    return refuse("bad_payload", `the update is not a signed release (${issues})`, null);
  }
  const release = parsed.data;
  const claimed = claimedVersion(release.manifest);

  const key = context.keys.get(release.key_id);
  if (!key) return refuse("unknown_key", `signed with key ${release.key_id}, which this node does not trust`, claimed);
  let valid = false;
  try {
    valid = verify(null, Buffer.from(release.manifest, "utf8"), key, Buffer.from(release.signature, "base64"));
  } catch {
    valid = false;
  }
  if (!valid) return refuse("bad_signature", `the signature does not match the manifest (key ${release.key_id})`, claimed);

  let json: unknown;
  try {
    json = JSON.parse(release.manifest);
  } catch {
    return refuse("bad_manifest", "the signed manifest is not JSON", null);
  }
  const size = typeof json === "object" && json !== null && "size" in json ? json.size : undefined;
  if (typeof size === "number" && size > MAX_BUNDLE_BYTES) {
    return refuse("too_big", `the bundle is ${size} bytes; this node accepts at most ${MAX_BUNDLE_BYTES}`, claimed);
  }
  const manifest = ReleaseManifestSchema.safeParse(json);
  if (!manifest.success) {
    const issues = describeIssues(manifest.error, "manifest");
    return refuse("bad_manifest", `the signed manifest is not valid (${issues})`, claimed);
  }
  const { version, expires_at } = manifest.data;

  if (Date.parse(expires_at) <= context.now) {
    return refuse("expired", `the manifest for ${version} expired at ${expires_at}`, version);
  }
  if (compareVersions(version, context.runningVersion) <= 0) {
    return refuse("not_newer", `${version} is not newer than the running version ${context.runningVersion}`, version);
  }
  if (context.rolledBack.has(version)) {
    return refuse("rolled_back_before", `this node rolled back from ${version} before; it will not install it again`, version);
  }
  return { ok: true, value: { release, manifest: manifest.data } };
}

/** The version an (as yet unverified) manifest claims, for the failure report only. */
function claimedVersion(text: string): string | null {
  try {
    const json: unknown = JSON.parse(text);
    const version = typeof json === "object" && json !== null && "version" in json ? json.version : undefined;
    return VersionSchema.safeParse(version).success ? (version as string) : null;
  } catch {
    return null;
  }
}
