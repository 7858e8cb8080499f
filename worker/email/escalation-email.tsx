/** @jsxImportSource hono/jsx */
/**
 * The escalation to a person by email: the same escalation the webhook carries, for whoever is on
 * ESCALATION_EMAIL_TO. Which node and owner, the error line, how often and on which versions, what
 * triage did, and a link to the crash group in the support dashboard.
 */
import type { Child } from "hono/jsx";
import type { EscalationReason } from "../db/schema.ts";
import { headerText } from "./address.ts";
import { type ComposedEmail, EmailShell, plainDateTime, renderHtml, Small } from "./html.tsx";

export type EscalationEmailInput = {
  reason: EscalationReason;
  /** escalationSummary(): the sentence the webhook's `summary` has too. */
  summary: string;
  node: { id: string; name: string; owner: string; version: string | null; os: string };
  crashLine: string;
  reportsSinceLast: number;
  reportCount: number;
  versions: string[];
  /** What triage did, in a sentence (triageDid()). */
  triageDid: string;
  groupId: string;
  /** The crash group in the support dashboard; null when PUBLIC_URL is not set. */
  groupUrl: string | null;
  periodSeconds: number;
  at: Date;
};

export function escalationSubject(summary: string): string {
  return headerText(`Buhdi escalation: ${summary}`);
}

/** What triage did, for each reason it escalates. */
export function triageDid(input: { reason: EscalationReason; knownIssueId: string | null; fixVersion: string | null; halt: string | null }): string {
  switch (input.reason) {
    case "unknown_crash":
      return "No known issue matches this crash. Triage opened a ticket for engineering review and sent nothing to the computer.";
    case "regression":
      return `The crash happens on ${input.fixVersion} or later, which was meant to fix it. Triage marked the fix regressed and will not push it to this computer again.`;
    case "waiting_for_release":
      return `Known issue ${input.knownIssueId} is fixed in ${input.fixVersion}, but no published release carries it yet. Triage will send the update as soon as one is published.`;
    case "release_halted":
      return `Release ${input.fixVersion} was rolled back on this computer, and triage halted it for every node (${input.halt ?? "too many rollbacks"}).`;
  }
}

function howOften(input: EscalationEmailInput): string {
  const reports = (n: number) => `${n} report${n === 1 ? "" : "s"}`;
  const count =
    input.reportsSinceLast === input.reportCount
      ? `${reports(input.reportCount)} so far`
      : `${reports(input.reportsSinceLast)} since the last escalation (${input.reportCount} in all)`;
  const versions = input.versions.length === 0 ? "an unknown version" : `version${input.versions.length === 1 ? "" : "s"} ${input.versions.join(", ")}`;
  return `${count}, on ${versions}`;
}

function period(seconds: number): string {
  if (seconds % 3600 === 0) return seconds === 3600 ? "hour" : `${seconds / 3600} hours`;
  if (seconds % 60 === 0) return seconds === 60 ? "minute" : `${seconds / 60} minutes`;
  return `${seconds} seconds`;
}

export async function escalationEmail(input: EscalationEmailInput): Promise<ComposedEmail> {
  const { node } = input;
  const computer = `${node.name} (node ${node.id}), owner ${node.owner}, on ${node.version ?? "an unknown version"} (${node.os})`;
  const often = howOften(input);
  const footer = `Buhdi fleet edge, ${plainDateTime(input.at)}. At most one escalation per crash group every ${period(input.periodSeconds)}; the next one counts the reports since this one.`;
  const link = input.groupUrl ? `Crash group: ${input.groupUrl}` : `Crash group ${input.groupId}: Crash groups in the support dashboard.`;
  const text = [
    input.summary,
    "",
    `Computer:   ${computer}`,
    `Error:      ${input.crashLine}`,
    `How often:  ${often}`,
    `Triage:     ${input.triageDid}`,
    "",
    link,
    "",
    "--",
    footer,
    "",
  ].join("\n");
  const row = (label: string, value: Child) => (
    <tr>
      <th scope="row" style="text-align:left;vertical-align:top;padding:4px 12px 4px 0;white-space:nowrap">
        {label}
      </th>
      <td style="padding:4px 0">{value}</td>
    </tr>
  );
  const html = await renderHtml(
    <EmailShell title="Buhdi escalation">
      <p style="font-size:18px">{input.summary}</p>
      <table style="border-collapse:collapse">
        <tbody>
          {row("Computer", computer)}
          {row("Error", <code style="background:#f3f3f3;padding:2px 4px;word-break:break-all">{input.crashLine}</code>)}
          {row("How often", often)}
          {row("Triage", input.triageDid)}
        </tbody>
      </table>
      <p>{input.groupUrl ? <a href={input.groupUrl}>Open the crash group in the support dashboard</a> : link}</p>
      <Small>{footer}</Small>
    </EmailShell>,
  );
  return { subject: escalationSubject(input.summary), text, html };
}
