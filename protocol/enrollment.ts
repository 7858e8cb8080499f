/** The enrollment handshake: a one-time code in, a node id and its secret key out. */
import { z } from "zod";
import { PlatformSchema, VersionSchema } from "./telemetry.ts";

/** Human-typable: 16 Crockford base32 characters (80 bits) in groups of four. */
export const ENROLLMENT_CODE_PATTERN = /^[0-9A-HJKMNP-TV-Z]{4}(?:-[0-9A-HJKMNP-TV-Z]{4}){3}$/;

export const EnrollRequestSchema = z.object({
  code: z.string().trim().toUpperCase().regex(ENROLLMENT_CODE_PATTERN, "must be an enrollment code like ABCD-EFGH-JKMN-PQRS"),
  os: PlatformSchema,
  arch: PlatformSchema,
  version: VersionSchema,
});
export type EnrollRequest = z.input<typeof EnrollRequestSchema>;

export const EnrollResponseSchema = z.object({ node_id: z.uuid(), node_key: z.string().min(40) });
export type EnrollResponse = z.output<typeof EnrollResponseSchema>;
