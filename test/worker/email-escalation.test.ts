/**
 * The escalation to a person by email: every escalation that goes to the webhook also goes to
 * ESCALATION_EMAIL_TO, under the same flood control (one per crash group per period, with the count
 * since the last), through the real send_email binding, once whatever is retried; with no sender
 * nothing is sent; hostile node names and crash lines never reach a header or the HTML unescaped.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { emailOn, recordingEmail, SENDER, type SentEmail } from "./email-helpers.ts";
import { adminPost, call, createOwner, type EnrolledNode } from "./helpers.ts";
import { deliver, ingestCrash, row } from "./triage-helpers.ts";

const TO = "kriz@buhdi.test, on-call@buhdi.test";
const PUBLIC_URL = "https://fleet.example.com";

/** An unknown crash of its own per test (crash groups are shared by the whole file). */
function unknownCrash(name: string): string[] {
  return [
    `[2026-11-28T10:00:00.000Z] UNCAUGHT: TypeError: relay.${name} is not a function`,
    `    at ${name} (/app/relay.ts:10:5)`,
    "[2026-11-28T10:00:00.010Z] EXIT code=1 signal=null after 2.0 s",
  ];
}

async function nodeNamed(name: string, ownerName = "Nana"): Promise<EnrolledNode> {
  const owner = await createOwner(ownerName);
  const res = await adminPost("/api/admin/enrollments", { owner_id: owner.owner_id, node_name: name });
  const { code } = await res.json<{ code: string }>();
  const enrolled = await call("/api/enroll", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ code, os: "win32", arch: "x64", version: "0.3.0" }),
  });
  expect(enrolled.status).toBe(201);
  return { ...(await enrolled.json<{ node_id: string; node_key: string }>()), ...owner };
}

function escalationSettings(email: SendEmail, extra: Partial<Cloudflare.Env> = {}): Partial<Cloudflare.Env> {
  return emailOn(email, { ESCALATION_EMAIL_TO: TO, PUBLIC_URL, ...extra });
}

async function groupOf(telemetryId: string): Promise<string> {
  return (await row<{ group_id: string }>("SELECT group_id FROM resolutions WHERE telemetry_id = ?", telemetryId)).group_id;
}

describe("the escalation email", () => {
  it("goes to every recipient: node and owner, error line, how often, versions, what triage did, the crash group's link", async () => {
    const node = await nodeNamed("Kitchen Laptop");
    const email = recordingEmail();
    const id = await ingestCrash(node, unknownCrash("sendReport"));
    const { acked, ids } = await deliver([id], escalationSettings(email.binding));
    expect(acked).toEqual(ids);
    const groupId = await groupOf(id);
    expect(email.sent).toHaveLength(1);
    const [message] = email.sent as [SentEmail];
    expect(message.from).toEqual({ email: SENDER, name: "Buhdi fleet" });
    expect(message.to).toEqual(["kriz@buhdi.test", "on-call@buhdi.test"]);
    expect(message.subject).toBe(
      'Buhdi escalation: Unknown crash on "Kitchen Laptop": TypeError: relay.sendReport is not a function. A ticket is open for engineering review.',
    );
    expect(message.text).toContain(`Computer:   Kitchen Laptop (node ${node.node_id}), owner Nana, on 0.3.0 (win32)`);
    expect(message.text).toContain("Error:      UNCAUGHT: TypeError: relay.sendReport is not a function");
    expect(message.text).toContain("How often:  1 report so far, on version 0.3.0");
    expect(message.text).toContain("Triage:     No known issue matches this crash. Triage opened a ticket for engineering review");
    expect(message.text).toContain(`Crash group: ${PUBLIC_URL}/support/crash-groups?group=${groupId}`);
    expect(message.html).toContain(`href="${PUBLIC_URL}/support/crash-groups?group=${groupId}"`);

    const stored = await row<Record<string, unknown>>(
      "SELECT * FROM outgoing_emails WHERE escalation_id = (SELECT id FROM escalations WHERE telemetry_id = ?)",
      id,
    );
    expect(stored).toMatchObject({ kind: "escalation", status: "sent", attempts: 1, text_body: null });
  });

  it("goes at most once per crash group per period, and the next one counts the reports since the last", async () => {
    const node = await nodeNamed("Den PC");
    const crash = unknownCrash("flushQueue");
    const email = recordingEmail();
    const settings = escalationSettings(email.binding);
    await deliver([await ingestCrash(node, crash)], settings);
    const more = [await ingestCrash(node, crash), await ingestCrash(node, crash), await ingestCrash(node, crash, "0.3.1")];
    await deliver(more, settings);
    expect(email.sent).toHaveLength(1);

    // The period is over (0 s): the next report escalates again, by webhook row and by email.
    const next = await ingestCrash(node, crash, "0.3.1");
    await deliver([next], { ...settings, ESCALATION_PERIOD_SECONDS: "0" });
    expect(email.sent).toHaveLength(2);
    expect(email.sent[1]!.text).toContain("How often:  4 reports since the last escalation (5 in all), on versions 0.3.0, 0.3.1");
    const groupId = await groupOf(next);
    const escalations = await env.DB.prepare("SELECT count(*) AS n FROM escalations WHERE group_id = ?")
      .bind(groupId)
      .first<{ n: number }>();
    const emails = await env.DB.prepare(
      "SELECT count(*) AS n FROM outgoing_emails WHERE escalation_id IN (SELECT id FROM escalations WHERE group_id = ?)",
    )
      .bind(groupId)
      .first<{ n: number }>();
    expect([escalations!.n, emails!.n]).toEqual([2, 2]);
  });

  it("is retried with its message when the binding refuses it, and never sent twice", async () => {
    const node = await nodeNamed("Hall PC");
    const id = await ingestCrash(node, unknownCrash("openSocket"));
    const down = recordingEmail({ failures: 1 });
    const failed = await deliver([id], escalationSettings(down.binding));
    expect(failed.retried).toEqual(failed.ids);
    expect(down.sent).toEqual([]);

    const up = recordingEmail();
    const retried = await deliver([id], escalationSettings(up.binding), 2);
    expect(retried.acked).toEqual(retried.ids);
    await deliver([id], escalationSettings(up.binding), 3);
    expect(up.sent).toHaveLength(1);
    const stored = await row<Record<string, unknown>>(
      "SELECT status, attempts FROM outgoing_emails WHERE escalation_id = (SELECT id FROM escalations WHERE telemetry_id = ?)",
      id,
    );
    expect(stored).toEqual({ status: "sent", attempts: 2 });
  });

  it("does not wait for the webhook: sent while the webhook fails, and not sent again by the webhook's retries", async () => {
    const node = await nodeNamed("Study PC");
    const id = await ingestCrash(node, unknownCrash("readConfig"));
    const email = recordingEmail();
    // Nothing listens on port 9: the webhook fails, the message is retried.
    const webhookDown = { ESCALATION_WEBHOOK_URL: "http://127.0.0.1:9/escalations", ESCALATION_WEBHOOK_SECRET: "s" };
    const failed = await deliver([id], escalationSettings(email.binding, webhookDown));
    expect(failed.retried).toEqual(failed.ids);
    expect(email.sent).toHaveLength(1);
    const again = await deliver([id], escalationSettings(email.binding, webhookDown), 2);
    expect(again.retried).toEqual(again.ids);
    expect(email.sent).toHaveLength(1);
    expect(await row("SELECT attempts FROM escalations WHERE telemetry_id = ?", id)).toEqual({ attempts: 2 });
  });

  it("is not sent without a sender, nor without recipients; the escalation itself still happens", async () => {
    const node = await nodeNamed("Garage PC");
    const email = recordingEmail();
    const first = await ingestCrash(node, unknownCrash("noSender"));
    await deliver([first], { EMAIL: email.binding, ESCALATION_EMAIL_TO: TO, EMAIL_FROM: "" });
    const second = await ingestCrash(node, unknownCrash("noRecipients"));
    await deliver([second], { ...emailOn(email.binding), ESCALATION_EMAIL_TO: "" });
    expect(email.sent).toEqual([]);
    for (const id of [first, second]) {
      expect(await row("SELECT count(*) AS n FROM escalations WHERE telemetry_id = ?", id)).toEqual({ n: 1 });
      expect(
        await row(
          "SELECT count(*) AS n FROM outgoing_emails WHERE escalation_id IN (SELECT id FROM escalations WHERE telemetry_id = ?)",
          id,
        ),
      ).toEqual({ n: 0 });
    }
  });

  it("keeps hostile node names and crash lines out of its headers (no CR or LF) and escapes them in the HTML part", async () => {
    const node = await nodeNamed("<img src=x onerror=alert(1)>\r\nBcc: evil@example.com", "Nana\r\nBcc: evil@example.com");
    const email = recordingEmail();
    const crash = [
      "[2026-11-28T10:00:00.000Z] UNCAUGHT: Error: <script>alert(2)</script>\r\nBcc: evil@example.com",
      "    at hostile (/app/hostile.ts:1:1)",
    ];
    await deliver([await ingestCrash(node, crash)], escalationSettings(email.binding));
    const [message] = email.sent as [SentEmail];
    expect(message.subject).not.toMatch(/[\r\n]/);
    expect(message.subject).toContain('"<img src=x onerror=alert(1)> Bcc: evil@example.com"');
    expect(message.to).toEqual(["kriz@buhdi.test", "on-call@buhdi.test"]);
    expect(message.html).not.toContain("<img");
    expect(message.html).not.toContain("<script>");
    expect(message.html).toContain("&lt;img src=x onerror=alert(1)&gt;");
    expect(message.html).toContain("&lt;script&gt;alert(2)&lt;/script&gt;");
  });
});

describe("the crash group link", () => {
  it("opens that group alone in the support dashboard, for IT Support only", async () => {
    const node = await nodeNamed("Attic PC");
    const email = recordingEmail();
    const id = await ingestCrash(node, unknownCrash("linkTarget"));
    await deliver([id], escalationSettings(email.binding));
    const link = new URL(/Crash group: (\S+)/.exec(email.sent[0]!.text)![1]!);
    expect(link.origin).toBe(PUBLIC_URL);

    const signIn = await call("/auth/support", {
      method: "POST",
      headers: { origin: "https://edge.test", "sec-fetch-site": "same-origin", "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ admin_token: env.ADMIN_TOKEN }).toString(),
      redirect: "manual",
    });
    const cookie = (signIn.headers.get("set-cookie") ?? "").split(";")[0]!;
    const page = await call(`${link.pathname}${link.search}`, { headers: { cookie } });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain(`data-group-id="${await groupOf(id)}"`);
    expect(html.match(/data-group-id=/g)).toHaveLength(1);
    expect(html).toContain("relay.linkTarget is not a function");

    const unknown = await call(`/support/crash-groups?group=${crypto.randomUUID()}`, { headers: { cookie } });
    expect(unknown.status).toBe(404);
    expect((await call(`${link.pathname}${link.search}`)).status).toBe(401);
  });
});
