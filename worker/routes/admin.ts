/**
 * The admin API (ADMIN_TOKEN): create owners and issue enrollment codes (known
 * issues live in routes/known-issues.ts). Secrets it makes (dashboard tokens,
 * codes) are returned once and stored only as SHA-256 digests. An enrollment
 * may also email the owner their invitation, once, through the Queue
 * (worker/email/, docs/email.md).
 */
import { Hono } from "hono";
import { z } from "zod";
import { requireAdmin } from "../auth.ts";
import { enrollmentTtlSeconds } from "../config.ts";
import { DASHBOARD_TOKEN_PREFIX, makeCredential } from "../credentials.ts";
import { enrollmentCode, sha256Hex } from "../crypto.ts";
import { type Database, database } from "../db/client.ts";
import { fleetDatabase } from "../db/shards.ts";
import { findEmailByDedupeKey } from "../db/emails.ts";
import { deleteEnrollmentCode, findEnrollmentByRequestKey, insertEnrollmentCode } from "../db/enrollments.ts";
import { insertSignInToken } from "../db/sessions.ts";
import { findOwner, insertOwner } from "../db/owners.ts";
import { invitationKey, type PreparedInvitation, prepareInvitation } from "../email/invite.ts";
import type { AppEnv } from "../env.ts";
import { ApiError } from "../http/errors.ts";
import { readJsonBody } from "../http/json-body.ts";
import { readHeaders, readParams } from "../http/query.ts";
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
  /** Email the owner their invitation: the setup link and a sign-in link to their dashboard. */
  send_email: z.boolean().optional(),
});

const EnrollmentHeaders = z.object({
  /** The same key again creates nothing and sends nothing: a retried request after a lost answer is safe. */
  "idempotency-key": z
    .string()
    .regex(/^[\x21-\x7e]{1,200}$/, "1 to 200 visible ASCII characters")
    .optional(),
});

const EmailAnswer = z.union([
  z.object({ status: z.literal("queued"), id: z.uuid(), to: z.array(z.email()) }),
  z.object({ status: z.literal("not_sent"), reason: z.string() }),
]);

export const adminRoutes = new Hono<AppEnv>()
  .use(requireAdmin)
  .post("/owners", async (c) => {
    const body = await readJsonBody(c, CreateOwner, ADMIN_BODY_MAX_BYTES);
    const token = makeCredential(DASHBOARD_TOKEN_PREFIX, crypto.randomUUID());
    const created = await insertOwner(database(fleetDatabase(c.env)), {
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
    const { "idempotency-key": requestKey } = readHeaders(c, EnrollmentHeaders);
    const db = database(fleetDatabase(c.env));
    const owner = await findOwner(db, body.owner_id);
    if (!owner) throw new ApiError(404, "owner_not_found", `No owner has id ${body.owner_id}.`);
    if (requestKey) await refuseRepeat(db, requestKey);

    const now = Date.now();
    const ttl = body.expires_in_seconds ?? enrollmentTtlSeconds(c.env);
    const code = enrollmentCode();
    const codeHash = await sha256Hex(code);
    const expiresAt = new Date(now + ttl * 1000);
    const origin = new URL(c.req.url).origin;
    const setup_url = setupUrl(origin, code);
    const invitation: PreparedInvitation | null = body.send_email
      ? await prepareInvitation(c.env, {
          owner,
          nodeName: body.node_name,
          codeHash,
          setupUrl: setup_url,
          setupExpiresAt: expiresAt,
          origin,
          now,
        })
      : null;
    const ready = invitation?.status === "ready" ? invitation : null;
    try {
      await insertEnrollmentCode(
        db,
        { codeHash, ownerId: owner.id, nodeName: body.node_name, expiresAt, requestKey: requestKey ?? null },
        ready,
      );
    } catch (error) {
      // A concurrent request with the same key won: answer as its repeat would be answered.
      if (requestKey) await refuseRepeat(db, requestKey);
      throw error;
    }
    if (ready) {
      try {
        await c.env.TRIAGE_QUEUE.send({ kind: "email", email_id: ready.email.id });
      } catch (error) {
        // Not queued, so never sent: take the enrollment back rather than answer with an invitation that will not come.
        console.error(JSON.stringify({ msg: "invitation not queued", email_id: ready.email.id, error: String(error) }));
        await deleteEnrollmentCode(db, codeHash, { emailId: ready.email.id, signInTokenId: ready.signInToken.id });
        throw new ApiError(503, "queue_unavailable", "The invitation could not be queued, so nothing was created; retry the request.", {
          headers: { "retry-after": "30" },
        });
      }
    }
    const email =
      invitation === null
        ? undefined
        : invitation.status === "ready"
          ? { status: "queued" as const, id: invitation.email.id, to: invitation.email.to }
          : invitation;
    return c.json({ code, expires_at: expiresAt.toISOString(), setup_url, ...(email && { email }) }, 201);
  })
  // A one-time link that signs the owner in to their dashboard: 15 minutes, single use.
  .post("/owners/:id/sign-in-link", async (c) => {
    const { id } = readParams(c, OwnerParams);
    const db = database(fleetDatabase(c.env));
    if (!(await findOwner(db, id))) throw new ApiError(404, "owner_not_found", `No owner has id ${id}.`);
    const link = makeCredential(SIGN_IN_PREFIX, crypto.randomUUID());
    const expiresAt = new Date(Date.now() + SIGN_IN_TTL_MS);
    await insertSignInToken(db, { id: link.id, ownerId: id, secretHash: await sha256Hex(link.secret), expiresAt });
    const url = `${new URL(c.req.url).origin}/auth/link/${link.token}`;
    return c.json({ url, expires_at: expiresAt.toISOString() }, 201);
  });

/** An enrollment this Idempotency-Key already created: 409, saying what became of its invitation. */
async function refuseRepeat(db: Database, requestKey: string): Promise<void> {
  const existing = await findEnrollmentByRequestKey(db, requestKey);
  if (!existing) return;
  const email = await findEmailByDedupeKey(db, invitationKey(existing.codeHash));
  const invitation = email ? `its invitation email is ${email.status}` : "it sent no invitation email";
  throw new ApiError(
    409,
    "enrollment_exists",
    `An enrollment was already created with this Idempotency-Key at ${existing.createdAt.toISOString()}: its code was shown once, and ${invitation}. Nothing new was created or sent.`,
  );
}

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
    summary: "Issue a one-time enrollment code for an owner's new node; with send_email, email them the invitation (once)",
    auth: "admin",
    body: CreateEnrollment,
    headers: EnrollmentHeaders,
    responses: {
      201: {
        description:
          "{code, expires_at, setup_url, email?}: setup_url is the link in the owner's invitation; email (with send_email) says whether it was queued to the owner's address or, with the reason, not sent (no sender configured)",
        schema: z.object({ code: z.string(), expires_at: z.iso.datetime(), setup_url: z.url(), email: EmailAnswer.optional() }),
      },
    },
    errors: {
      404: "No such owner (owner_not_found).",
      409: "This Idempotency-Key already created an enrollment (enrollment_exists): nothing new is created or sent.",
      503: "The invitation could not be queued (queue_unavailable): nothing was created; retry after retry-after.",
    },
  },
];
