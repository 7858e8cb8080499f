/**
 * The signed release contract between the release pipeline, the cloud and the
 * agent (anchored on The Update Framework's threats, see docs/architecture.md):
 *
 * - The manifest pins the bundle: version, channel, sha256 and size (arbitrary
 *   software, endless data), with an expiry (freeze) — one manifest per release
 *   (mix and match).
 * - The signature is Ed25519 over the manifest's exact JSON text (UTF-8 bytes),
 *   so nobody has to agree on a canonical form: the text shipped is the text signed.
 * - `key_id` names the signing key: agents pin more than one (rotation, compromise).
 */
import { z } from "zod";
import { VersionSchema } from "./telemetry.ts";

export const CHANNELS = ["stable", "beta"] as const;
export type Channel = (typeof CHANNELS)[number];

/** Bundles bigger than this are refused before and during download. */
export const MAX_BUNDLE_BYTES = 64 * 1024 * 1024;

export const ReleaseManifestSchema = z.object({
  version: VersionSchema,
  channel: z.enum(CHANNELS),
  /** Lowercase hex SHA-256 of the bundle. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/, "must be a lowercase hex SHA-256"),
  size: z.number().int().positive().max(MAX_BUNDLE_BYTES),
  created_at: z.iso.datetime({ offset: true }),
  expires_at: z.iso.datetime({ offset: true }),
});
export type ReleaseManifest = z.output<typeof ReleaseManifestSchema>;

/** 16 hex characters: the first 8 bytes of SHA-256 over the raw 32-byte public key. */
export const KeyIdSchema = z.string().regex(/^[0-9a-f]{16}$/, "must be 16 hex characters");

/** What the cloud hands a node: in GET /api/node/versions and in a SOFTWARE_UPDATE command's payload. */
export const SignedReleaseSchema = z.object({
  /** The manifest's exact JSON text, as signed. */
  manifest: z.string().min(2).max(4096),
  /** Base64 of the 64-byte Ed25519 signature over the manifest text. */
  signature: z.string().regex(/^[A-Za-z0-9+/]{86}==$/, "must be a base64 Ed25519 signature"),
  key_id: KeyIdSchema,
  /** Path on the edge (node key required): GET streams the bundle, with Range for resumed downloads. */
  download_path: z.string().regex(/^\/api\/node\/releases\/[0-9A-Za-z.+-]+\/bundle$/),
});
export type SignedRelease = z.output<typeof SignedReleaseSchema>;

/** Telemetry the agent sends about an update (types in protocol/telemetry.ts). */
export const UPDATE_STAGES = ["downloaded", "installed", "healthy", "failed", "rolled_back"] as const;
export type UpdateStage = (typeof UPDATE_STAGES)[number];
