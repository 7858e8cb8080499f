/**
 * What enrolled nodes fetch: `GET /api/node/versions?channel=stable` (the
 * release this node should run, signed) and the bundle itself, streamed from
 * R2 with an ETag and Range support so an interrupted download resumes.
 */
import { Hono } from "hono";
import { z } from "zod";
import { CHANNELS, SignedReleaseSchema } from "../../protocol/release.ts";
import { VersionSchema } from "../../protocol/telemetry.ts";
import { requireNode } from "../auth.ts";
import { database } from "../db/client.ts";
import { fleetDatabase } from "../db/shards.ts";
import { findRelease } from "../db/releases.ts";
import type { AppEnv } from "../env.ts";
import { ApiError } from "../http/errors.ts";
import { readParams, readQuery } from "../http/query.ts";
import { limitNodeRate } from "../rate-limit.ts";
import type { Operation } from "../openapi/operation.ts";
import { releaseFor, signedRelease } from "../releases/offer.ts";

const VersionsQuery = z.object({ channel: z.enum(CHANNELS).default("stable") });
const BundleParams = z.object({ version: VersionSchema });

// Middleware per route, not `.use()`: this app shares the /api/node prefix with others.
export const nodeReleaseRoutes = new Hono<AppEnv>()
  .get("/versions", requireNode, limitNodeRate, async (c) => {
    const { channel } = readQuery(c, VersionsQuery);
    const release = await releaseFor(database(fleetDatabase(c.env)), c.get("nodeId"), { channel });
    return c.json({ channel, latest: release ? { version: release.version, ...signedRelease(release) } : null });
  })
  .get("/releases/:version/bundle", requireNode, limitNodeRate, async (c) => {
    const { version } = readParams(c, BundleParams);
    const release = await findRelease(database(fleetDatabase(c.env)), version);
    if (!release) throw new ApiError(404, "release_not_found", `No release ${version}.`);
    if (release.status === "yanked") throw new ApiError(410, "release_yanked", `Release ${version} was withdrawn.`);
    const object = await c.env.RELEASES.get(release.r2Key, { range: c.req.raw.headers, onlyIf: c.req.raw.headers });
    if (!object) throw new ApiError(404, "bundle_missing", `The bundle of ${version} is not in storage.`);
    // no-transform: nothing on the way may compress it; the node checks the sha256 of the raw bytes.
    const headers = new Headers({
      etag: object.httpEtag,
      "accept-ranges": "bytes",
      "content-type": "application/javascript",
      "cache-control": "no-transform",
    });
    if (!("body" in object)) return new Response(null, { status: 304, headers });
    const range = object.range as { offset?: number; length?: number } | undefined;
    if (c.req.header("range") && range) {
      const offset = range.offset ?? 0;
      const length = range.length ?? object.size - offset;
      headers.set("content-range", `bytes ${offset}-${offset + length - 1}/${object.size}`);
      headers.set("content-length", String(length));
      return new Response(object.body, { status: 206, headers });
    }
    headers.set("content-length", String(object.size));
    return new Response(object.body, { status: 200, headers });
  });

export const nodeReleaseApi: Operation[] = [
  {
    method: "get",
    path: "/api/node/versions",
    summary: "The release this node should run on a channel, signed (null: none)",
    auth: "node",
    query: VersionsQuery,
    responses: {
      200: {
        description: "The channel and the latest release for this node.",
        schema: z.object({ channel: z.enum(CHANNELS), latest: SignedReleaseSchema.extend({ version: VersionSchema }).nullable() }),
      },
    },
  },
  {
    method: "get",
    path: "/api/node/releases/{version}/bundle",
    summary: "The release bundle, with ETag and Range for resumed downloads",
    auth: "node",
    params: BundleParams,
    responses: {
      200: { description: "The whole bundle.", mediaType: "application/javascript" },
      206: { description: "The requested range of the bundle.", mediaType: "application/javascript" },
      304: { description: "Not modified since the ETag sent in If-None-Match." },
    },
    errors: {
      404: "No such release, or its bundle is missing (release_not_found, bundle_missing).",
      410: "The release was yanked (release_yanked).",
    },
  },
];
