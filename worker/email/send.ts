/**
 * Sends one stored email through the send_email binding, at most once.
 *
 * The row is claimed (pending → sending) before the binding is called and marked sent after. A
 * retried request or Queue message that finds it sent, or being sent, does nothing. A send the
 * binding refuses (it throws) puts the row back to pending and fails the attempt, so the Queue
 * retries it. The one window left: the binding accepted the message and the Worker died (or D1
 * failed) before the row was marked sent. The row then stays `sending`, and it is not sent again:
 * at most once, never twice, and the support API shows it as an unknown outcome (docs/email.md).
 */
import { claimEmail, emailStatus, markEmailSent, releaseEmail } from "../db/emails.ts";
import type { Env } from "../env.ts";
import { fleetDatabase } from "../db/shards.ts";
import { emailAddress, headerText } from "./address.ts";
import { SENDER_NAME } from "./invitation.tsx";

export type SendOutcome = "sent" | "already_sent" | "in_progress" | "not_found";

/** The binding refused the message; the row is pending again and the caller should retry later. */
export class EmailSendFailed extends Error {}

/** The sender's display name per kind: Nana reads who invited her; IT Support reads the fleet's alert. */
const SENDER_NAMES = { invitation: SENDER_NAME, escalation: "Buhdi fleet" } as const;

export async function sendStoredEmail(env: Env, id: string, now: number): Promise<SendOutcome> {
  const d1 = fleetDatabase(env);
  const email = await claimEmail(d1, id, now);
  if (!email) {
    const status = await emailStatus(d1, id);
    return status === null ? "not_found" : status === "sent" ? "already_sent" : "in_progress";
  }
  // Checked when written; checked again, since whatever reaches the binding becomes a header.
  const from = emailAddress(email.fromAddress);
  const to = (JSON.parse(email.toAddresses) as string[]).map(emailAddress);
  if (!from || to.length === 0 || to.some((address) => address === null) || email.textBody === null || email.htmlBody === null) {
    await releaseEmail(d1, id, "the stored email is not sendable (a bad address or no body)");
    throw new EmailSendFailed(`email ${id} is not sendable`);
  }
  let messageId: string;
  try {
    ({ messageId } = await env.EMAIL.send({
      from: { email: from, name: SENDER_NAMES[email.kind] },
      to: to as string[],
      subject: headerText(email.subject),
      text: email.textBody,
      html: email.htmlBody,
    }));
  } catch (error) {
    const reason = `send_email refused it: ${String(error)}`;
    await releaseEmail(d1, id, reason);
    throw new EmailSendFailed(reason);
  }
  await markEmailSent(d1, id, Date.now(), messageId);
  return "sent";
}
