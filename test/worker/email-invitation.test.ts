/**
 * Nana's invitation by email: an enrollment with send_email queues it once, the Queue consumer
 * hands it to the real send_email binding once, whatever is retried; no sender means nothing is
 * sent and the answer says so; bad input is a 400 naming the field; names never reach a header
 * unflattened, and never reach the HTML unescaped.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { callWith, deliverMessages, emailOn, recordingEmail, recordingQueue, SENDER, type SentEmail } from "./email-helpers.ts";
import { adminHeaders, adminPost, call, createOwner } from "./helpers.ts";

type EnrollmentAnswer = {
  code: string;
  expires_at: string;
  setup_url: string;
  email?: { status: "queued"; id: string; to: string[] } | { status: "not_sent"; reason: string };
};

async function ownerEmail(ownerId: string): Promise<string> {
  const row = await env.DB.prepare("SELECT email FROM owners WHERE id = ?").bind(ownerId).first<{ email: string }>();
  return row!.email;
}

function enroll(overrides: Partial<Cloudflare.Env>, body: Record<string, unknown>, headers: Record<string, string> = {}) {
  return callWith(overrides, "/api/admin/enrollments", { method: "POST", headers: adminHeaders(headers), body: JSON.stringify(body) });
}

async function emailRows(where = "1 = 1", ...params: unknown[]) {
  const { results } = await env.DB.prepare(`SELECT * FROM outgoing_emails WHERE ${where}`)
    .bind(...params)
    .all<Record<string, unknown>>();
  return results;
}

function emailsTo(address: string) {
  return emailRows("EXISTS (SELECT 1 FROM json_each(to_addresses) WHERE value = ?)", address);
}

/** Invites an owner with email on; the answer, the queued messages and the recording binding. */
async function invite(nodeName = "Kitchen Laptop", name = "Nana") {
  const owner = await createOwner(name);
  const email = recordingEmail();
  const queue = recordingQueue();
  const settings = emailOn(email.binding, { TRIAGE_QUEUE: queue.queue });
  const res = await enroll(settings, { owner_id: owner.owner_id, node_name: nodeName, send_email: true });
  expect(res.status).toBe(201);
  return { owner, email, queue, settings, answer: await res.json<EnrollmentAnswer>() };
}

describe("Nana's invitation", () => {
  it("is queued once and sent once to the owner: the setup link, her sign-in link, who sent it and what to do if unexpected", async () => {
    const { owner, email, queue, settings, answer } = await invite();
    const to = await ownerEmail(owner.owner_id);
    expect(answer.email).toEqual({ status: "queued", id: expect.any(String), to: [to] });
    const id = (answer.email as { id: string }).id;
    expect(queue.sent).toEqual([{ kind: "email", email_id: id }]);
    expect(email.sent).toEqual([]);

    const delivered = await deliverMessages(queue.sent, settings);
    expect(delivered.acked).toEqual(delivered.ids);
    expect(email.sent).toHaveLength(1);
    const [message] = email.sent as [SentEmail];
    expect(message.from).toEqual({ email: SENDER, name: "Buhdi IT Support" });
    expect(message.to).toEqual([to]);
    expect(message.subject).toBe('Set up Buhdi on your computer "Kitchen Laptop"');
    expect(message.text).toContain("Hello Nana,");
    expect(message.text).toContain("Click here to set up Buhdi");
    expect(message.text).toContain(answer.setup_url);
    expect(message.text).toContain(`Sent by Buhdi IT Support (${SENDER})`);
    expect(message.text).toContain("Did not expect this email?");
    expect(message.html).toContain(`href="${answer.setup_url}"`);
    expect(message.html).toContain("Click here to set up Buhdi");

    // The sign-in link in the email opens her dashboard's sign-in page (spending nothing).
    const signIn = /(https:\/\/edge\.test\/auth\/link\/\S+)/.exec(message.text)?.[1];
    expect(signIn).toBeDefined();
    expect(message.html).toContain(`href="${signIn}"`);
    const page = await call(new URL(signIn!).pathname);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("Hello Nana");

    const [row] = await emailRows("id = ?", id);
    // Sent: the bodies (live links) are not kept.
    expect(row).toMatchObject({ kind: "invitation", status: "sent", attempts: 1, text_body: null, html_body: null, last_error: null });
    expect(row!.message_id).toEqual(expect.any(String));
  });

  it("is sent once however often its message is delivered, one after another or in one batch", async () => {
    const { email, queue, settings } = await invite();
    const message = queue.sent[0]!;
    await deliverMessages([message, message], settings);
    const again = await deliverMessages([message], settings, 2);
    expect(again.acked).toEqual(again.ids);
    expect(email.sent).toHaveLength(1);
  });

  it("is retried when the binding refuses it, then sent once", async () => {
    const { owner, queue, settings } = await invite();
    const down = recordingEmail({ failures: 1 });
    const failed = await deliverMessages(queue.sent, { ...settings, EMAIL: down.binding });
    expect(failed.retried).toEqual(failed.ids);
    expect(down.sent).toEqual([]);
    const [pending] = await emailsTo(await ownerEmail(owner.owner_id));
    expect(pending).toMatchObject({ status: "pending", attempts: 1, last_error: expect.stringContaining("email service unavailable") });
    expect(pending!.text_body).toEqual(expect.any(String));

    const up = recordingEmail();
    const retried = await deliverMessages(queue.sent, { ...settings, EMAIL: up.binding }, 2);
    expect(retried.acked).toEqual(retried.ids);
    await deliverMessages(queue.sent, { ...settings, EMAIL: up.binding }, 3);
    expect(up.sent).toHaveLength(1);
    const [sent] = await emailRows("id = ?", pending!.id);
    expect(sent).toMatchObject({ status: "sent", attempts: 2, last_error: null });
  });

  it("is not sent again by a repeated request: the same Idempotency-Key answers 409 and creates nothing", async () => {
    const owner = await createOwner();
    const queue = recordingQueue();
    const settings = emailOn(recordingEmail().binding, { TRIAGE_QUEUE: queue.queue });
    const key = `invite-${crypto.randomUUID()}`;
    const body = { owner_id: owner.owner_id, node_name: "Kitchen Laptop", send_email: true };
    const first = await enroll(settings, body, { "idempotency-key": key });
    expect(first.status).toBe(201);
    const again = await enroll(settings, body, { "idempotency-key": key });
    expect(again.status).toBe(409);
    const refusal = await again.json<{ error: { code: string; message: string } }>();
    expect(refusal.error.code).toBe("enrollment_exists");
    expect(refusal.error.message).toContain("its invitation email is pending");
    expect(queue.sent).toHaveLength(1);
    const codes = await env.DB.prepare("SELECT count(*) AS n FROM enrollment_codes WHERE owner_id = ?")
      .bind(owner.owner_id)
      .first<{ n: number }>();
    expect(codes!.n).toBe(1);
  });

  it("is taken back with the enrollment when the Queue refuses it: 503, nothing created, and the retry works", async () => {
    const owner = await createOwner();
    const settings = emailOn(recordingEmail().binding, { TRIAGE_QUEUE: recordingQueue({ failing: true }).queue });
    const body = { owner_id: owner.owner_id, node_name: "Kitchen Laptop", send_email: true };
    const refused = await enroll(settings, body);
    expect(refused.status).toBe(503);
    expect(refused.headers.get("retry-after")).toBe("30");
    const count = async (table: string) =>
      (await env.DB.prepare(`SELECT count(*) AS n FROM ${table} WHERE owner_id = ?`).bind(owner.owner_id).first<{ n: number }>())!.n;
    expect(await count("enrollment_codes")).toBe(0);
    expect(await count("sign_in_tokens")).toBe(0);
    expect(await emailsTo(await ownerEmail(owner.owner_id))).toEqual([]);

    const queue = recordingQueue();
    const retried = await enroll({ ...settings, TRIAGE_QUEUE: queue.queue }, body);
    expect(retried.status).toBe(201);
    expect(queue.sent).toHaveLength(1);
  });
});

describe("the invitation's sign-in link", () => {
  it.each([
    ["lives as long as a 1-hour enrollment code", 3600, 3600_000],
    ["lives at most 7 days, even for a 30-day code", 30 * 24 * 3600, 7 * 24 * 3600_000],
  ])("%s", async (_what, codeSeconds, linkMs) => {
    const owner = await createOwner();
    const settings = emailOn(recordingEmail().binding, { TRIAGE_QUEUE: recordingQueue().queue });
    const before = Date.now();
    const res = await enroll(settings, { owner_id: owner.owner_id, node_name: "PC", send_email: true, expires_in_seconds: codeSeconds });
    expect(res.status).toBe(201);
    const link = await env.DB.prepare("SELECT expires_at FROM sign_in_tokens WHERE owner_id = ?")
      .bind(owner.owner_id)
      .first<{ expires_at: number }>();
    expect(link!.expires_at).toBeGreaterThanOrEqual(before + linkMs);
    expect(link!.expires_at).toBeLessThanOrEqual(Date.now() + linkMs);
  });
});

describe("what IT Support sees", () => {
  it("each email's kind, recipients, status and attempts, never its body", async () => {
    const { email, queue, settings, answer } = await invite("Lounge PC");
    const id = (answer.email as { id: string }).id;
    const listed = async () => {
      const res = await call("/api/support/emails?kind=invitation&limit=200", { headers: adminHeaders() });
      expect(res.status).toBe(200);
      const { items } = await res.json<{ items: Record<string, unknown>[] }>();
      return items.find((item) => item.id === id);
    };
    expect(await listed()).toMatchObject({ kind: "invitation", status: "pending", attempts: 0, outcome_unknown: false });
    await deliverMessages(queue.sent, settings);
    const sent = await listed();
    expect(sent).toMatchObject({ status: "sent", attempts: 1, to: email.sent[0]!.to, subject: email.sent[0]!.subject });
    expect(Object.keys(sent!)).not.toContain("text");
    expect(JSON.stringify(sent)).not.toContain("/auth/link/");
  });

  it("an attempt that died after claiming an email leaves it unsent, shown as an unknown outcome, never sent twice", async () => {
    const { email, queue, settings, answer } = await invite("Porch PC");
    const id = (answer.email as { id: string }).id;
    // What a Worker killed between the binding's answer and marking the row sent leaves behind.
    await env.DB.prepare("UPDATE outgoing_emails SET status = 'sending', attempts = 1, claimed_at = ? WHERE id = ?")
      .bind(Date.now() - 20 * 60_000, id)
      .run();
    const redelivered = await deliverMessages(queue.sent, settings, 2);
    expect(redelivered.acked).toEqual(redelivered.ids);
    expect(email.sent).toEqual([]);
    const res = await call("/api/support/emails?status=sending", { headers: adminHeaders() });
    const { items } = await res.json<{ items: Record<string, unknown>[] }>();
    expect(items.find((item) => item.id === id)).toMatchObject({ status: "sending", outcome_unknown: true });
  });
});

describe("no email", () => {
  it("without a sender: nothing is queued or sent, and the answer says why", async () => {
    const owner = await createOwner();
    const queue = recordingQueue();
    const email = recordingEmail();
    for (const [from, why] of [
      ["", "EMAIL_FROM is not set"],
      ["not an address", "EMAIL_FROM is not a valid address"],
    ] as const) {
      const res = await enroll(
        { EMAIL_FROM: from, EMAIL: email.binding, TRIAGE_QUEUE: queue.queue },
        {
          owner_id: owner.owner_id,
          node_name: "Kitchen Laptop",
          send_email: true,
        },
      );
      expect(res.status).toBe(201);
      const answer = await res.json<EnrollmentAnswer>();
      expect(answer.email).toEqual({ status: "not_sent", reason: expect.stringContaining(why) });
      expect(answer.code).toMatch(/^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}$/);
    }
    expect(queue.sent).toEqual([]);
    expect(email.sent).toEqual([]);
    expect(await emailsTo(await ownerEmail(owner.owner_id))).toEqual([]);
  });

  it("without send_email: nothing is queued, and the answer has no email field", async () => {
    const owner = await createOwner();
    const queue = recordingQueue();
    const res = await enroll(emailOn(recordingEmail().binding, { TRIAGE_QUEUE: queue.queue }), {
      owner_id: owner.owner_id,
      node_name: "PC",
    });
    expect(res.status).toBe(201);
    expect(await res.json()).not.toHaveProperty("email");
    expect(queue.sent).toEqual([]);
  });
});

describe("bad input", () => {
  it.each([
    ["an address with a header after CR LF", { email: "nana@example.com\r\nBcc: evil@example.com", name: "Nana" }, "email"],
    ["a display name", { email: "Nana <nana@example.com>", name: "Nana" }, "email"],
    ["two addresses", { email: "nana@example.com, evil@example.com", name: "Nana" }, "email"],
  ])("an owner with %s is a 400 naming the field", async (_what, body, field) => {
    const res = await adminPost("/api/admin/owners", body);
    expect(res.status).toBe(400);
    const refusal = await res.json<{ error: { code: string; issues: { path: string }[] } }>();
    expect(refusal.error.issues.map((i) => i.path)).toEqual([field]);
  });

  it("send_email must be true or false: a 400 naming it", async () => {
    const owner = await createOwner();
    const res = await adminPost("/api/admin/enrollments", { owner_id: owner.owner_id, node_name: "PC", send_email: "yes" });
    expect(res.status).toBe(400);
    expect((await res.json<{ error: { issues: { path: string }[] } }>()).error.issues.map((i) => i.path)).toEqual(["send_email"]);
  });

  it.each([
    ["a space in it", "two words"],
    ["over 200 characters", "k".repeat(201)],
  ])("an Idempotency-Key with %s is a 400 naming the header", async (_what, key) => {
    const owner = await createOwner();
    const res = await call("/api/admin/enrollments", {
      method: "POST",
      headers: adminHeaders({ "idempotency-key": key }),
      body: JSON.stringify({ owner_id: owner.owner_id, node_name: "PC" }),
    });
    expect(res.status).toBe(400);
    const refusal = await res.json<{ error: { code: string; issues: { path: string }[] } }>();
    expect(refusal.error.code).toBe("invalid_header");
    expect(refusal.error.issues.map((i) => i.path)).toEqual(["idempotency-key"]);
  });
});

describe("hostile names", () => {
  it("never reach a header with a CR or LF, and are escaped in the HTML part", async () => {
    const hostile = "<img src=x onerror=alert(1)>\r\nBcc: evil@example.com";
    const { email, queue, settings } = await invite(hostile, "Nana\r\nBcc: evil@example.com");
    await deliverMessages(queue.sent, settings);
    const [message] = email.sent as [SentEmail];
    expect(message.subject).not.toMatch(/[\r\n]/);
    expect(message.subject).toBe('Set up Buhdi on your computer "<img src=x onerror=alert(1)> Bcc: evil@example.com"');
    expect(message.to).toHaveLength(1);
    expect(message.to[0]).not.toContain("evil");
    expect(message.from.name).not.toMatch(/[\r\n]/);
    expect(message.html).not.toContain("<img");
    expect(message.html).toContain("&lt;img src=x onerror=alert(1)&gt;");
  });
});
