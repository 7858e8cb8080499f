/**
 * Releases (ADMIN_TOKEN): register a signed release whose bundle is already in
 * R2, list them, set the rollout percentage, push it to nodes now, halt, resume, yank. Registering
 * checks everything a node will check (signature by a trusted key, manifest,
 * bundle size and SHA-256 in R2), so a bad release never reaches a node.
 */
import { Hono } from "hono";
import { z } from "zod";
import { issuesFrom } from "../../protocol/errors.ts";
import { KeyIdSchema, ReleaseManifestSchema } from "../../protocol/release.ts";
import { VersionSchema } from "../../protocol/telemetry.ts";
import { requireAdmin } from "../auth.ts";
import { toHex } from "../crypto.ts";
import { database } from "../db/client.ts";
import { fleetDatabase } from "../db/shards.ts";
import { findRelease, insertRelease, listReleases, type Release, updateRelease } from "../db/releases.ts";
import type { AppEnv, Env } from "../env.ts";
import { ApiError } from "../http/errors.ts";
import { readJsonBody } from "../http/json-body.ts";
import { readParams } from "../http/query.ts";
import type { Operation } from "../openapi/operation.ts";
import { carryOutWaitingDecisions } from "../releases/carry-out.ts";
import { startPushFanout } from "../releases/push-fanout.ts";
import { PUSH_PAGE, pushToNamed } from "../releases/push-now.ts";
import { trustedKeys, verifyManifestSignature } from "../releases/signature.ts";

export function bundleKey(version: string): string {
  return `bundles/${version}/buhdi-node.mjs`;
}

const Register = z.object({
  manifest: z.string().min(2).max(4096),
  signature: z.string().regex(/^[A-Za-z0-9+/]{86}==$/, "must be a base64 Ed25519 signature"),
  key_id: KeyIdSchema,
});
const Params = z.object({ version: VersionSchema });
/** Named nodes, or a page of all nodes (cursor: the next_cursor of the previous call). */
const Push = z.object({ node_ids: z.array(z.uuid()).min(1).max(PUSH_PAGE).optional() });
const Rollout = z.object({ percent: z.number().int().min(0).max(100) });
const Halt = z.object({ reason: z.string().trim().min(1).max(500) });

function refuse(path: string, message: string, status: 400 | 422 = 400): ApiError {
  return new ApiError(status, status === 400 ? "invalid_body" : "release_refused", `The release is refused: ${path}: ${message}.`, {
    issues: [{ path, message }],
  });
}

function view(release: Release) {
  return {
    version: release.version,
    channel: release.channel,
    sha256: release.sha256,
    size: release.size,
    key_id: release.keyId,
    expires_at: release.expiresAt.toISOString(),
    rollout_percent: release.rolloutPercent,
    status: release.status,
    halted_reason: release.haltedReason,
    installs: release.installs,
    rollbacks: release.rollbacks,
    created_at: release.createdAt.toISOString(),
  };
}

async function sha256Of(object: R2ObjectBody): Promise<string> {
  const digest = new crypto.DigestStream("SHA-256");
  await object.body.pipeTo(digest);
  return toHex(await digest.digest);
}

async function existing(env: Env, version: string): Promise<Release> {
  const release = await findRelease(database(fleetDatabase(env)), version);
  if (!release) throw new ApiError(404, "release_not_found", `No release ${version}.`);
  return release;
}

export const adminReleaseRoutes = new Hono<AppEnv>()
  .use(requireAdmin)
  .get("/", async (c) => c.json({ items: (await listReleases(database(fleetDatabase(c.env)))).map(view) }))
  .post("/", async (c) => {
    const body = await readJsonBody(c, Register, 16 * 1024);
    let manifestJson: unknown;
    try {
      manifestJson = JSON.parse(body.manifest);
    } catch {
      throw refuse("manifest", "is not JSON text");
    }
    const parsed = ReleaseManifestSchema.safeParse(manifestJson);
    if (!parsed.success) {
      const issues = issuesFrom(parsed.error).map((i) => ({ path: `manifest.${i.path}`, message: i.message }));
      throw new ApiError(400, "invalid_body", `The release is refused: ${issues[0]!.path}: ${issues[0]!.message}.`, { issues });
    }
    const manifest = parsed.data;
    if (Date.parse(manifest.expires_at) <= Date.now()) throw refuse("manifest.expires_at", "has already passed");

    const check = await verifyManifestSignature(trustedKeys(c.env.RELEASE_PUBLIC_KEYS), body.key_id, body.manifest, body.signature);
    if (!check.ok) throw refuse("signature", check.reason, 422);

    const object = await c.env.RELEASES.get(bundleKey(manifest.version));
    if (!object) throw refuse("manifest.version", `no bundle at ${bundleKey(manifest.version)} in R2; upload it first`, 422);
    if (object.size !== manifest.size) {
      await object.body.cancel();
      throw refuse("manifest.size", `the bundle in R2 is ${object.size} bytes, the manifest says ${manifest.size}`, 422);
    }
    if ((await sha256Of(object)) !== manifest.sha256) throw refuse("manifest.sha256", "does not match the bundle in R2", 422);

    const release = await insertRelease(database(fleetDatabase(c.env)), {
      version: manifest.version,
      channel: manifest.channel,
      manifest: body.manifest,
      signature: body.signature,
      keyId: body.key_id,
      sha256: manifest.sha256,
      size: manifest.size,
      r2Key: bundleKey(manifest.version),
      expiresAt: new Date(manifest.expires_at),
      createdAt: new Date(),
    });
    if (!release) throw new ApiError(409, "release_exists", `Release ${manifest.version} is already registered; versions are immutable.`);
    const pushed = await carryOutWaitingDecisions(c.env, release);
    return c.json({ ...view(release), pushed_to_waiting_nodes: pushed }, 201);
  })
  .post("/:version/rollout", async (c) => {
    const { version } = readParams(c, Params);
    const { percent } = await readJsonBody(c, Rollout, 1024);
    await existing(c.env, version);
    const release = (await updateRelease(database(fleetDatabase(c.env)), version, { rolloutPercent: percent }))!;
    return c.json({ ...view(release), pushed_to_waiting_nodes: await carryOutWaitingDecisions(c.env, release) });
  })
  .post("/:version/push", async (c) => {
    const { version } = readParams(c, Params);
    const body = await readJsonBody(c, Push, 8 * 1024);
    const release = await existing(c.env, version);
    if (release.status !== "active") {
      throw new ApiError(
        409,
        `release_${release.status}`,
        `Release ${version} is ${release.status}; ${release.status === "halted" ? "resume it" : "publish a new version"} before pushing it.`,
      );
    }
    if (release.expiresAt.getTime() <= Date.now())
      throw new ApiError(409, "release_expired", `Release ${version} has expired; nodes would refuse it.`);
    if (!body.node_ids) {
      await startPushFanout(c.env, version);
      return c.json({ version, fanout: "queued" }, 202);
    }
    const outcome = await pushToNamed(c.env, release, body.node_ids);
    return c.json({ version, pushed_to: outcome.pushed, skipped: outcome.skipped }, 202);
  })
  .post("/:version/halt", async (c) => {
    const { version } = readParams(c, Params);
    const { reason } = await readJsonBody(c, Halt, 2048);
    const current = await existing(c.env, version);
    if (current.status === "yanked") throw new ApiError(409, "release_yanked", `Release ${version} was yanked; it cannot be halted.`);
    return c.json(view((await updateRelease(database(fleetDatabase(c.env)), version, { status: "halted", haltedReason: reason }))!));
  })
  .post("/:version/resume", async (c) => {
    const { version } = readParams(c, Params);
    const current = await existing(c.env, version);
    if (current.status === "yanked")
      throw new ApiError(409, "release_yanked", `Release ${version} was yanked; publish a new version instead.`);
    const release = (await updateRelease(database(fleetDatabase(c.env)), version, { status: "active", haltedReason: null }))!;
    return c.json({ ...view(release), pushed_to_waiting_nodes: await carryOutWaitingDecisions(c.env, release) });
  })
  .post("/:version/yank", async (c) => {
    const { version } = readParams(c, Params);
    await existing(c.env, version);
    return c.json(view((await updateRelease(database(fleetDatabase(c.env)), version, { status: "yanked" }))!));
  });

const RELEASE =
  "The release: {version, channel, sha256, size, key_id, expires_at, rollout_percent, status, halted_reason, installs, rollbacks, created_at}";
const NOT_FOUND = { 404: "No such release (release_not_found)." };

export const adminReleaseApi: Operation[] = [
  {
    method: "get",
    path: "/api/admin/releases",
    summary: "Every release, newest version first",
    auth: "admin",
    responses: { 200: { description: `{items: [${RELEASE}]}` } },
  },
  {
    method: "post",
    path: "/api/admin/releases",
    summary: "Register a signed release whose bundle is already in R2",
    auth: "admin",
    body: Register,
    responses: { 201: { description: `${RELEASE}, and pushed_to_waiting_nodes.` } },
    errors: {
      409: "The version is already registered (release_exists).",
      422: "Signature, bundle size or SHA-256 do not check out (release_refused).",
    },
  },
  {
    method: "post",
    path: "/api/admin/releases/{version}/rollout",
    summary: "Set the rollout percentage",
    auth: "admin",
    params: Params,
    body: Rollout,
    responses: { 200: { description: `${RELEASE}, and pushed_to_waiting_nodes.` } },
    errors: NOT_FOUND,
  },
  {
    method: "post",
    path: "/api/admin/releases/{version}/push",
    summary: "Push the release now: to named nodes (answered with what was pushed), or to every node in its rollout through the Queue",
    auth: "admin",
    params: Params,
    body: Push,
    responses: { 202: { description: 'Named nodes: {version, pushed_to, skipped}; the whole rollout: {version, fanout: "queued"}' } },
    errors: { ...NOT_FOUND, 409: "The release is halted, yanked or expired." },
  },
  {
    method: "post",
    path: "/api/admin/releases/{version}/halt",
    summary: "Halt the release for everyone",
    auth: "admin",
    params: Params,
    body: Halt,
    responses: { 200: { description: RELEASE } },
    errors: { ...NOT_FOUND, 409: "The release was yanked (release_yanked)." },
  },
  {
    method: "post",
    path: "/api/admin/releases/{version}/resume",
    summary: "Resume a halted release",
    auth: "admin",
    params: Params,
    responses: { 200: { description: `${RELEASE}, and pushed_to_waiting_nodes.` } },
    errors: { ...NOT_FOUND, 409: "The release was yanked (release_yanked)." },
  },
  {
    method: "post",
    path: "/api/admin/releases/{version}/yank",
    summary: "Withdraw the release: nodes can no longer download it",
    auth: "admin",
    params: Params,
    responses: { 200: { description: RELEASE } },
    errors: NOT_FOUND,
  },
];
