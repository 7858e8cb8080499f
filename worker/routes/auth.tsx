/**
 * Signing in to the dashboard without passwords (see session.ts): the sign-in link's page and
 * its POST, IT Support's one-time form with the admin token, and signing out.
 */
import { Hono } from "hono";
import { z } from "zod";
import { LinkProblemPage, MessagePage, SignInLinkPage, SupportSignInPage } from "../../dashboard/views/sign-in.tsx";
import { parseCredential } from "../credentials.ts";
import { matchesHash, secretsEqual } from "../crypto.ts";
import { database } from "../db/client.ts";
import { fleetDatabase } from "../db/shards.ts";
import { findOwner } from "../db/owners.ts";
import { findSignInToken, spendSignInToken } from "../db/sessions.ts";
import type { AppEnv } from "../env.ts";
import { ApiError } from "../http/errors.ts";
import { readFormBody } from "../http/form-body.ts";
import { readParams } from "../http/query.ts";
import type { Operation } from "../openapi/operation.ts";
import { endSession, SIGN_IN_PREFIX, startSession } from "../session.ts";

const LinkParams = z.object({ token: z.string().min(1).max(200) });
const SupportForm = z.object({ admin_token: z.string().min(1, "enter the admin token").max(512) });

type LinkCheck = { ok: true; id: string; ownerId: string; ownerName: string } | { ok: false; problem: "used" | "expired" | "unknown" };

async function checkLink(env: AppEnv["Bindings"], token: string): Promise<LinkCheck> {
  const credential = parseCredential(SIGN_IN_PREFIX, token);
  if (!credential) return { ok: false, problem: "unknown" };
  const db = database(fleetDatabase(env));
  const row = await findSignInToken(db, credential.id);
  if (!row || !(await matchesHash(credential.secret, row.secretHash))) return { ok: false, problem: "unknown" };
  if (row.usedAt !== null) return { ok: false, problem: "used" };
  if (row.expiresAt.getTime() <= Date.now()) return { ok: false, problem: "expired" };
  const owner = await findOwner(db, row.ownerId);
  if (!owner) return { ok: false, problem: "unknown" };
  return { ok: true, id: row.id, ownerId: owner.id, ownerName: owner.name };
}

const LINK_STATUS = { used: 410, expired: 410, unknown: 404 } as const;

export const authRoutes = new Hono<AppEnv>()
  // Opening the link only shows a button: link scanners and previews must not spend it.
  .get("/link/:token", async (c) => {
    const { token } = readParams(c, LinkParams);
    const check = await checkLink(c.env, token);
    if (!check.ok) return c.html(<LinkProblemPage problem={check.problem} />, LINK_STATUS[check.problem]);
    return c.html(<SignInLinkPage token={token} ownerName={check.ownerName} />);
  })
  .post("/link/:token", async (c) => {
    const { token } = readParams(c, LinkParams);
    const check = await checkLink(c.env, token);
    if (!check.ok) return c.html(<LinkProblemPage problem={check.problem} />, LINK_STATUS[check.problem]);
    // Single use even when two requests race: only one conditional update spends it.
    if (!(await spendSignInToken(database(fleetDatabase(c.env)), check.id, new Date()))) {
      return c.html(<LinkProblemPage problem="used" />, 410);
    }
    await startSession(c, c.env, { kind: "owner", ownerId: check.ownerId });
    return c.redirect("/home", 303);
  })
  .get("/support", (c) => c.html(<SupportSignInPage />))
  .post("/support", async (c) => {
    const form = await readFormBody(c, SupportForm);
    if (!c.env.ADMIN_TOKEN) throw new ApiError(503, "admin_token_unset", "The edge has no ADMIN_TOKEN configured.");
    if (!(await secretsEqual(form.admin_token, c.env.ADMIN_TOKEN))) {
      return c.html(<SupportSignInPage error="That admin token is not right." />, 401);
    }
    await startSession(c, c.env, { kind: "admin" });
    return c.redirect("/support", 303);
  })
  .post("/sign-out", async (c) => {
    await endSession(c, c.env);
    return c.html(
      <MessagePage title="You are signed out" text="You can close this page." link={{ href: "/auth/support", label: "IT Support sign-in" }} />,
    );
  });

const HTML = "text/html";

export const authApi: Operation[] = [
  {
    method: "get",
    path: "/auth/link/{token}",
    summary: "A sign-in link's page: a Sign in button (opening it spends nothing)",
    auth: "none",
    html: true,
    params: LinkParams,
    responses: { 200: { description: "The page with the Sign in button.", mediaType: HTML } },
    errors: { 404: "The link is not valid.", 410: "The link was used or has expired (links work once, for 15 minutes)." },
  },
  {
    method: "post",
    path: "/auth/link/{token}",
    summary: "Spend the sign-in link: an owner's session cookie (SameSite=Lax), then to /home",
    auth: "none",
    html: true,
    params: LinkParams,
    responses: { 303: { description: "Signed in; Set-Cookie __Host-buhdi-session, Location /home." } },
    errors: {
      404: "The link is not valid.",
      410: "The link was used or has expired.",
    },
  },
  {
    method: "get",
    path: "/auth/support",
    summary: "IT Support's sign-in form (the admin token, once)",
    auth: "none",
    html: true,
    responses: { 200: { description: "The form.", mediaType: HTML } },
    errors: {},
  },
  {
    method: "post",
    path: "/auth/support",
    summary: "Sign IT Support in with the admin token: a session cookie (SameSite=Strict), then to /support",
    auth: "none",
    html: true,
    form: SupportForm,
    responses: { 303: { description: "Signed in; Set-Cookie __Host-buhdi-session, Location /support." } },
    errors: { 401: "The admin token is wrong.", 503: "The edge has no ADMIN_TOKEN configured." },
  },
  {
    method: "post",
    path: "/auth/sign-out",
    summary: "Sign out: the session is revoked and the cookie cleared",
    auth: "none",
    html: true,
    responses: { 200: { description: "The signed-out page.", mediaType: HTML } },
  },
];
