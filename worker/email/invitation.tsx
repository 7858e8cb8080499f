/** @jsxImportSource hono/jsx */
/**
 * Nana's invitation: "Click here to set up Buhdi". Short and in plain words: the one big link to
 * the setup page, the sign-in link to her own dashboard, who sent it, and what to do if she did
 * not expect it. Text and HTML say the same.
 */
import { headerText } from "./address.ts";
import { BigLink, type ComposedEmail, EmailShell, plainDate, renderHtml, Small } from "./html.tsx";

export type InvitationInput = {
  ownerName: string;
  nodeName: string;
  setupUrl: string;
  setupExpiresAt: Date;
  signInUrl: string;
  signInExpiresAt: Date;
  /** The sender's address, named in the email so she can tell who wrote. */
  from: string;
};

export const SENDER_NAME = "Buhdi IT Support";

export function invitationSubject(nodeName: string): string {
  return headerText(`Set up Buhdi on your computer "${nodeName}"`);
}

export async function invitationEmail(input: InvitationInput): Promise<ComposedEmail> {
  const { ownerName, nodeName } = input;
  const until = plainDate(input.setupExpiresAt);
  const signInUntil = plainDate(input.signInExpiresAt);
  const text = [
    `Hello ${ownerName},`,
    "",
    `Buhdi looks after your computer "${nodeName}" so that you never have to. Click here to set up Buhdi, on that computer:`,
    "",
    `  ${input.setupUrl}`,
    "",
    `It takes a minute and needs no password. The link works once, until ${until}.`,
    "",
    "To see how your computers are doing, open your own page:",
    "",
    `  ${input.signInUrl}`,
    "",
    `(This link signs you in once, until ${signInUntil}.)`,
    "",
    "--",
    `Sent by ${SENDER_NAME} (${input.from}), who set up Buhdi for you.`,
    "Did not expect this email? Then do not open the links: simply delete it, and nothing is installed.",
    "If you are unsure, ask the person who looks after your computers.",
    "",
  ].join("\n");
  const html = await renderHtml(
    <EmailShell title="Set up Buhdi">
      <p>Hello {ownerName},</p>
      <p>Buhdi looks after your computer “{nodeName}” so that you never have to. On that computer:</p>
      <BigLink href={input.setupUrl}>Click here to set up Buhdi</BigLink>
      <p>
        It takes a minute and needs no password. The link works once, until {until}.
      </p>
      <p>
        To see how your computers are doing, open <a href={input.signInUrl}>your own page</a> (this link signs you in once, until{" "}
        {signInUntil}).
      </p>
      <hr style="border:none;border-top:1px solid #ddd;margin:24px 0" />
      <Small>
        Sent by {SENDER_NAME} ({input.from}), who set up Buhdi for you. Did not expect this email? Then do not open the links: simply delete
        it, and nothing is installed. If you are unsure, ask the person who looks after your computers.
      </Small>
    </EmailShell>,
  );
  return { subject: invitationSubject(nodeName), text, html };
}
