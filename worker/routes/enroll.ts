/**
 * `POST /api/enroll`: a one-time code becomes a node and its key. The key is
 * returned once; only its hash is kept.
 */
import { Hono } from "hono";
import { EnrollRequestSchema, type EnrollResponse, EnrollResponseSchema } from "../../protocol/enrollment.ts";
import { makeCredential, NODE_KEY_PREFIX } from "../credentials.ts";
import { sha256Hex } from "../crypto.ts";
import { database } from "../db/client.ts";
import { fleetDatabase } from "../db/shards.ts";
import { redeemEnrollmentCode } from "../db/enrollments.ts";
import type { AppEnv } from "../env.ts";
import { ApiError } from "../http/errors.ts";
import { readJsonBody } from "../http/json-body.ts";
import type { Operation } from "../openapi/operation.ts";

const ENROLL_BODY_MAX_BYTES = 4 * 1024;

const REFUSALS = {
  unknown: new ApiError(404, "enrollment_code_unknown", "This enrollment code does not exist; check it or ask for a new one."),
  used: new ApiError(410, "enrollment_code_used", "This enrollment code was already used; ask for a new one."),
  expired: new ApiError(410, "enrollment_code_expired", "This enrollment code has expired; ask for a new one."),
} as const;

export const enrollRoutes = new Hono<AppEnv>().post("/", async (c) => {
  const body = await readJsonBody(c, EnrollRequestSchema, ENROLL_BODY_MAX_BYTES);
  const key = makeCredential(NODE_KEY_PREFIX, crypto.randomUUID());
  // The directory's: the code names the owner, and the new node's key is checked there.
  const d1 = fleetDatabase(c.env);
  const result = await redeemEnrollmentCode(
    database(d1),
    d1,
    await sha256Hex(body.code),
    { id: key.id, keyHash: await sha256Hex(key.secret), os: body.os, arch: body.arch, version: body.version },
    new Date(),
  );
  if (!result.ok) throw REFUSALS[result.reason];
  c.set("nodeId", key.id);
  const response: EnrollResponse = { node_id: key.id, node_key: key.token };
  return c.json(response, 201);
});

export const enrollApi: Operation[] = [
  {
    method: "post",
    path: "/api/enroll",
    summary: "Redeem a one-time enrollment code: a node id and its key (returned once)",
    auth: "none",
    body: EnrollRequestSchema,
    responses: { 201: { description: "The new node's id and key.", schema: EnrollResponseSchema } },
    errors: {
      404: "No such enrollment code (enrollment_code_unknown).",
      410: "The code was already used or has expired (enrollment_code_used, enrollment_code_expired).",
    },
  },
];
