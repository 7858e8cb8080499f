/**
 * What an enrollment with `send_email: true` adds to its D1 batch: a sign-in link of its own for
 * the owner (the one in the email) and the invitation's outgoing_emails row, keyed by the
 * enrollment so it exists once. Or, when this edge sends no email, why not.
 */
import { emailSettings } from "../config.ts";
import { makeCredential } from "../credentials.ts";
import { sha256Hex } from "../crypto.ts";
import type { NewEmail } from "../db/emails.ts";
import type { Env } from "../env.ts";
import { SIGN_IN_PREFIX } from "../session.ts";
import { emailAddress } from "./address.ts";
import { invitationEmail } from "./invitation.tsx";

/**
 * A sign-in link in an email may be opened days later, unlike one read out at once (15 minutes):
 * it lives as long as the enrollment code, but never more than a week. Still single use, and
 * only a POST from its page spends it, so a mail scanner opening it neither signs in nor burns it.
 */
const INVITATION_SIGN_IN_MAX_MS = 7 * 24 * 3600_000;

export type PreparedInvitation =
  | { status: "not_sent"; reason: string }
  | {
      status: "ready";
      email: NewEmail;
      signInToken: { id: string; ownerId: string; secretHash: string; expiresAt: Date };
    };

export function invitationKey(enrollmentCodeHash: string): string {
  return `invitation:${enrollmentCodeHash}`;
}

export async function prepareInvitation(
  env: Env,
  input: {
    owner: { id: string; name: string; email: string };
    nodeName: string;
    codeHash: string;
    setupUrl: string;
    setupExpiresAt: Date;
    origin: string;
    now: number;
  },
): Promise<PreparedInvitation> {
  const settings = emailSettings(env);
  if (!settings.from) return { status: "not_sent", reason: settings.reason ?? "no sender" };
  const to = emailAddress(input.owner.email);
  if (!to) return { status: "not_sent", reason: "the owner's email address is not a valid address" };

  const link = makeCredential(SIGN_IN_PREFIX, crypto.randomUUID());
  const signInExpiresAt = new Date(Math.min(input.setupExpiresAt.getTime(), input.now + INVITATION_SIGN_IN_MAX_MS));
  const composed = await invitationEmail({
    ownerName: input.owner.name,
    nodeName: input.nodeName,
    setupUrl: input.setupUrl,
    setupExpiresAt: input.setupExpiresAt,
    signInUrl: `${input.origin}/auth/link/${link.token}`,
    signInExpiresAt,
    from: settings.from,
  });
  return {
    status: "ready",
    email: {
      id: crypto.randomUUID(),
      dedupeKey: invitationKey(input.codeHash),
      kind: "invitation",
      from: settings.from,
      to: [to],
      ...composed,
    },
    signInToken: { id: link.id, ownerId: input.owner.id, secretHash: await sha256Hex(link.secret), expiresAt: signInExpiresAt },
  };
}
