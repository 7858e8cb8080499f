/**
 * The admin API (ADMIN_TOKEN): create owners and issue enrollment codes (known
 * issues live in routes/known-issues.ts). Secrets it makes (dashboard tokens,
 * codes) are returned once and stored only as SHA-256 digests.
 */
import { Hono } from "hono";
import { z } from "zod";
import { requireAdmin } from "../auth.ts";
import { enrollmentTtlSeconds } from "../config.ts";
import { DASHBOARD_TOKEN_PREFIX, makeCredential } from "../credentials.ts";
import { enrollmentCode, sha256Hex } from "../crypto.ts";
import { database } from "../db/client.ts";
import { insertEnrollmentCode } from "../db/enrollments.ts";
import { insertSignInToken } from "../db/sessions.ts";
import { findOwner, insertOwner } from "../db/owners.ts";
import type { AppEnv } from "../env.ts";
import { ApiError } from "../http/errors.ts";
import { readJsonBody } from "../http/json-body.ts";
import { readParams } from "../http/query.ts";
import type { Operation } from "../openapi/operation.ts";
import { setupUrl } from "./setup.ts";
import { SIGN_IN_PREFIX, SIGN_IN_TTL_MS } from "../session.ts";

const ADMIN_BODY_MAX_BYTES = 16 * 1024;

const CreateOwner = z.object({
  email: z.email().max(254),
  name: z.string().trim().min(1).max(100),
});

const OwnerParams = z.object({ id: z.uuid() });

const CreateEnrollment = z.object({
  owner_id: z.uuid(),
  node_name: z.string().trim().min(1).max(100),
  /** Shorter than the default for codes sent over riskier channels; never longer than 30 days. */
  expires_in_seconds: z
    .number()
    .int()
    .min(60)
    .max(30 * 24 * 3600)
    .optional(),
});

export const adminRoutes = new Hono<AppEnv>()
  .use(requireAdmin)
  .post("/owners", async (c) => {
    const body = await readJsonBody(c, CreateOwner, ADMIN_BODY_MAX_BYTES);
    const token = makeCredential(DASHBOARD_TOKEN_PREFIX, crypto.randomUUID());
    const created = await insertOwner(database(c.env.DB), {
      id: token.id,
      email: body.email.toLowerCase(),
      name: body.name,
      dashboardTokenHash: await sha256Hex(token.secret),
    });
    if (!created) throw new ApiError(409, "owner_exists", `An owner with email ${body.email} already exists.`);
    return c.json({ owner_id: token.id, dashboard_token: token.token }, 201);
  })
  .post("/enrollments", async (c) => {
    const body = await readJsonBody(c, CreateEnrollment, ADMIN_BODY_MAX_BYTES);
    const db = database(c.env.DB);
    if (!(await findOwner(db, body.owner_id))) {
      throw new ApiError(404, "owner_not_found", `No owner has id ${body.owner_id}.`);
    }
    const ttl = body.expires_in_seconds ?? enrollmentTtlSeconds(c.env);
    const code = enrollmentCode();
    const expiresAt = new Date(Date.now() + ttl * 1000);
    await insertEnrollmentCode(db, {
      codeHash: await sha256Hex(code),
      ownerId: body.owner_id,
      nodeName: body.node_name,
      expiresAt,
    });
    return c.json({ code, expires_at: expiresAt.toISOString(), setup_url: setupUrl(new URL(c.req.url).origin, code) }, 201);
  })
  // A one-time link that signs the owner in to their dashboard: 15 minutes, single use.
  .post("/owners/:id/sign-in-link", async (c) => {
    const { id } = readParams(c, OwnerParams);
    const db = database(c.env.DB);
    if (!(await findOwner(db, id))) throw new ApiError(404, "owner_not_found", `No owner has id ${id}.`);
    const link = makeCredential(SIGN_IN_PREFIX, crypto.randomUUID());
    const expiresAt = new Date(Date.now() + SIGN_IN_TTL_MS);
    await insertSignInToken(db, { id: link.id, ownerId: id, secretHash: await sha256Hex(link.secret), expiresAt });
    const url = `${new URL(c.req.url).origin}/auth/link/${link.token}`;
    return c.json({ url, expires_at: expiresAt.toISOString() }, 201);
  });

export const adminApi: Operation[] = [
  {
    method: "post",
    path: "/api/admin/owners/{id}/sign-in-link",
    summary: "A one-time sign-in link to the owner's dashboard (15 minutes, single use; only its hash is stored)",
    auth: "admin",
    params: OwnerParams,
    responses: { 201: { description: "{url, expires_at}", schema: z.object({ url: z.url(), expires_at: z.iso.datetime() }) } },
    errors: { 404: "No such owner (owner_not_found)." },
  },
  {
    method: "post",
    path: "/api/admin/owners",
    summary: "Create an owner; their dashboard token is returned once",
    auth: "admin",
    body: CreateOwner,
    responses: {
      201: { description: "{owner_id, dashboard_token}", schema: z.object({ owner_id: z.uuid(), dashboard_token: z.string() }) },
    },
    errors: { 409: "An owner with this email exists (owner_exists)." },
  },
  {
    method: "post",
    path: "/api/admin/enrollments",
    summary: "Issue a one-time enrollment code for an owner's new node",
    auth: "admin",
    body: CreateEnrollment,
    responses: {
      201: {
        description: "{code, expires_at, setup_url}: setup_url is the link in the owner's invitation",
        schema: z.object({ code: z.string(), expires_at: z.iso.datetime(), setup_url: z.url() }),
      },
    },
    errors: { 404: "No such owner (owner_not_found)." },
  },
];
