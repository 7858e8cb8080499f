/**
 * Email end to end: the real Worker under wrangler dev, its real Queue, and the local send_email
 * binding, whose log is the only way an email shows locally (scripts/local-email.ts reads it, as
 * `npm start` and the demo do). Nana's invitation arrives once, and its links work; an unknown crash
 * reported three times reaches the escalation recipient once.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalEdge, startLocalEdge } from "../../scripts/local-edge.ts";
import type { LocalEmail } from "../../scripts/local-email.ts";
import { TYPE_ERROR_CRASH } from "../fixtures/crashes.ts";
import { adminCall, enrollThroughApi, reportCrash } from "../support/edge-api.ts";
import { eventually } from "../support/live-node.ts";

const FROM = "it-support@buhdi.test";
const KRIZ = "kriz@buhdi.test";

describe("email through the local send_email binding", () => {
  let edge: LocalEdge;
  const emails: LocalEmail[] = [];

  beforeAll(async () => {
    edge = await startLocalEdge({ vars: { EMAIL_FROM: FROM, ESCALATION_EMAIL_TO: KRIZ }, onEmail: (email) => emails.push(email) });
  });

  afterAll(async () => {
    await edge?.stop();
  });

  const admin = (path: string, body?: unknown) => adminCall(edge, path, body);

  it("Nana's invitation arrives once, from the sender, with a setup link and a sign-in link that work", async () => {
    const address = `nana-${randomUUID()}@example.com`;
    const owner = await admin("/api/admin/owners", { email: address, name: "Nana" });
    const enrollment = await admin("/api/admin/enrollments", { owner_id: owner.owner_id, node_name: "Kitchen Laptop", send_email: true });
    expect(enrollment.email).toMatchObject({ status: "queued", to: [address] });

    const [invitation] = await eventually(
      () => emails.filter((e) => e.to.includes(address)),
      (found) => found.length >= 1,
      45_000,
      "the invitation in the local send_email binding's log",
      250,
    );
    expect(invitation!.from).toContain(FROM);
    expect(invitation!.subject).toBe('Set up Buhdi on your computer "Kitchen Laptop"');
    expect(invitation!.text).toContain(String(enrollment.setup_url));
    expect(invitation!.html).toContain(`href="${String(enrollment.setup_url)}"`);

    const setup = await fetch(String(enrollment.setup_url));
    expect(setup.status).toBe(200);
    const signIn = /(http:\/\/127\.0\.0\.1:\d+\/auth\/link\/\S+)/.exec(invitation!.text)?.[1];
    expect(signIn).toBeDefined();
    const page = await fetch(signIn!);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("Hello Nana");

    // Sent once: its one row says so, and a redelivered message would find it sent.
    const listed = (await admin("/api/support/emails?kind=invitation&limit=200")).items as {
      to: string[];
      status: string;
      attempts: number;
    }[];
    expect(listed.filter((e) => e.to.includes(address))).toEqual([expect.objectContaining({ status: "sent", attempts: 1 })]);
    expect(emails.filter((e) => e.to.includes(address))).toHaveLength(1);
  });

  it("an unknown crash reported three times reaches the escalation recipient once, linking its crash group", async () => {
    const node = await enrollThroughApi(edge, { name: "Study PC", os: "linux" });
    for (let i = 0; i < 3; i++) await reportCrash(edge, node.node_key, TYPE_ERROR_CRASH, "linux");
    const toKriz = () => emails.filter((e) => e.to.includes(KRIZ) && e.text.includes("Study PC"));
    const rows = async () =>
      ((await admin("/api/support/emails?kind=escalation&limit=200")).items as { subject: string; status: string }[]).filter((e) =>
        e.subject.includes('"Study PC"'),
      );
    const groupOf = async () =>
      ((await admin("/api/support/crash-groups")).items as { id: string; title: string; report_count: number }[]).find((g) =>
        g.title.startsWith("TypeError"),
      );
    // Once the third report is triaged, every escalation email it could raise has its row.
    await eventually(
      async () => ({ group: await groupOf(), sent: toKriz().length }),
      ({ group, sent }) => group?.report_count === 3 && sent >= 1,
      45_000,
      "three reports triaged and the escalation email in the binding's log",
      250,
    );
    expect(await rows()).toEqual([expect.objectContaining({ status: "sent" })]);
    expect(toKriz()).toHaveLength(1);
    const [escalation] = toKriz();
    expect(escalation!.subject).toMatch(/^Buhdi escalation: Unknown crash on "Study PC": TypeError/);
    expect(escalation!.text).toContain("How often:  1 report so far, on version 0.3.0");
    expect(escalation!.text).toContain(`Crash group: ${edge.url}/support/crash-groups?group=${(await groupOf())!.id}`);
  });
});
