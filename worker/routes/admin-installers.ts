/**
 * `POST /api/admin/installers` (ADMIN_TOKEN): registers an installer already uploaded to R2 at
 * `installers/<version>/<platform>` for a registered release. The edge checks the object's size
 * and SHA-256 against what the release tool says it built, then the setup page serves it.
 * Registering the same installer again replaces the record (an installer carries no signature of
 * its own: re-signing one with a code-signing key changes its bytes).
 */
import { Hono } from "hono";
import { z } from "zod";
import { VersionSchema } from "../../protocol/telemetry.ts";
import { requireAdmin } from "../auth.ts";
import { toHex } from "../crypto.ts";
import { database } from "../db/client.ts";
import { fleetDatabase } from "../db/shards.ts";
import { findRelease } from "../db/releases.ts";
import type { AppEnv } from "../env.ts";
import { ApiError } from "../http/errors.ts";
import { readJsonBody } from "../http/json-body.ts";
import type { Operation } from "../openapi/operation.ts";
import { installerKey, PlatformParamSchema, writeInstallerRecord } from "../setup/installers.ts";

const Register = z.object({
  version: VersionSchema,
  platform: PlatformParamSchema,
  size: z
    .number()
    .int()
    .min(1)
    .max(512 * 1024 * 1024),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, "must be 64 lower-case hex digits"),
});

async function sha256Of(object: R2ObjectBody): Promise<string> {
  const digest = new crypto.DigestStream("SHA-256");
  await object.body.pipeTo(digest);
  return toHex(await digest.digest);
}

export const adminInstallerRoutes = new Hono<AppEnv>().use(requireAdmin).post("/", async (c) => {
  const body = await readJsonBody(c, Register, 4 * 1024);
  const release = await findRelease(database(fleetDatabase(c.env)), body.version);
  if (!release) throw new ApiError(404, "release_not_found", `No release ${body.version}: register the release first.`);
  const key = installerKey(body.version, body.platform);
  const object = await c.env.RELEASES.get(key);
  if (!object) throw new ApiError(422, "installer_missing", `Nothing is stored at ${key}: upload the installer first.`);
  if (object.size !== body.size) {
    await object.body.cancel();
    throw new ApiError(422, "installer_mismatch", `The stored installer has ${object.size} bytes, not ${body.size}.`);
  }
  const sha256 = await sha256Of(object);
  if (sha256 !== body.sha256)
    throw new ApiError(422, "installer_mismatch", `The stored installer's SHA-256 is ${sha256}, not ${body.sha256}.`);
  const record = { version: body.version, platform: body.platform, size: body.size, sha256, registered_at: new Date().toISOString() };
  await writeInstallerRecord(c.env.RELEASES, record);
  return c.json(record, 201);
});

const InstallerRecord = z.object({
  version: VersionSchema,
  platform: PlatformParamSchema,
  size: z.number().int(),
  sha256: z.string(),
  registered_at: z.iso.datetime(),
});

export const adminInstallerApi: Operation[] = [
  {
    method: "post",
    path: "/api/admin/installers",
    summary: "Register an installer uploaded to R2 for a release; the setup page then serves it",
    auth: "admin",
    body: Register,
    responses: { 201: { description: "The installer's record.", schema: InstallerRecord } },
    errors: {
      404: "No such release (release_not_found).",
      422: "Nothing stored under the installer's key, or its size or SHA-256 differ (installer_missing, installer_mismatch).",
    },
  },
];
