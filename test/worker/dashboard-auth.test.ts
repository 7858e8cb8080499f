/**
 * Signing in to the dashboard without passwords: one-time sign-in links for owners, the admin
 * token once on a form for IT Support, `__Host-` session cookies stored hashed and revocable,
 * CSRF refusals, and the pages' security headers.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { sha256Hex } from "../../worker/crypto.ts";
import { adminHeaders, adminPost, BASE, call, createOwner, enrollmentCodeFor } from "./helpers.ts";

const SAME_ORIGIN = { origin: BASE, "sec-fetch-site": "same-origin" };

async function signInLink(ownerId: string): Promise<{ url: string; expires_at: string }> {
  const res = await adminPost(`/api/admin/owners/${ownerId}/sign-in-link`, {});
  expect(res.status).toBe(201);
  return res.json();
}

function linkPath(url: string): string {
  return new URL(url).pathname;
}

async function enrollNamed(owner: { owner_id: string }, name: string): Promise<string> {
  const code = await enrollmentCodeFor(owner.owner_id, name);
  const res = await call("/api/enroll", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ code, os: "win32", arch: "x64", version: "0.3.0" }),
  });
  expect(res.status).toBe(201);
  return (await res.json<{ node_id: string }>()).node_id;
}

/** The cookie pair to send back ("name=value") and the Set-Cookie header's attributes. */
function sessionCookie(res: Response): { pair: string; attributes: string } {
  const header = res.headers.get("set-cookie") ?? "";
  expect(header).toMatch(/^__Host-buhdi-session=/);
  return { pair: header.split(";")[0]!, attributes: header };
}

async function ownerSession(ownerId: string): Promise<string> {
  const link = await signInLink(ownerId);
  const res = await call(linkPath(link.url), { method: "POST", headers: SAME_ORIGIN, redirect: "manual" });
  expect(res.status).toBe(303);
  return sessionCookie(res).pair;
}

async function supportSession(): Promise<string> {
  const res = await call("/auth/support", {
    method: "POST",
    headers: { ...SAME_ORIGIN, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ admin_token: env.ADMIN_TOKEN }).toString(),
    redirect: "manual",
  });
  expect(res.status).toBe(303);
  return sessionCookie(res).pair;
}

describe("sign-in links", () => {
  it("are made by IT Support for an owner: a URL on this edge valid for 15 minutes", async () => {
    const owner = await createOwner("Nana");
    const before = Date.now();
    const link = await signInLink(owner.owner_id);
    expect(link.url).toMatch(new RegExp(`^${BASE}/auth/link/bsl\\.[0-9a-f-]{36}\\.[A-Za-z0-9_-]{43}$`));
    const ttl = Date.parse(link.expires_at) - before;
    expect(ttl).toBeGreaterThan(14 * 60_000);
    expect(ttl).toBeLessThanOrEqual(15 * 60_000 + 1000);
  });

  it("answer 404 for an owner that does not exist, and 401 without the admin token", async () => {
    expect((await adminPost(`/api/admin/owners/${crypto.randomUUID()}/sign-in-link`, {})).status).toBe(404);
    const owner = await createOwner();
    expect((await call(`/api/admin/owners/${owner.owner_id}/sign-in-link`, { method: "POST" })).status).toBe(401);
  });

  it("are stored as a SHA-256 of the secret, never the secret", async () => {
    const owner = await createOwner();
    const link = await signInLink(owner.owner_id);
    const [, id, secret] = linkPath(link.url).split("/").at(-1)!.split(".");
    const row = await env.DB.prepare("SELECT * FROM sign_in_tokens WHERE id = ?").bind(id).first<Record<string, unknown>>();
    expect(row?.secret_hash).toBe(await sha256Hex(secret!));
    expect(JSON.stringify(row)).not.toContain(secret);
  });

  it("show only a Sign in button when opened, and opening them spends nothing", async () => {
    const owner = await createOwner("Nana");
    const link = await signInLink(owner.owner_id);
    for (let i = 0; i < 2; i++) {
      const page = await call(linkPath(link.url));
      expect(page.status).toBe(200);
      expect(page.headers.get("set-cookie")).toBeNull();
      const html = await page.text();
      expect(html).toContain('<button type="submit" class="big">Sign in</button>');
      expect(html).toContain(`<form method="post" action="${linkPath(link.url)}">`);
    }
    const res = await call(linkPath(link.url), { method: "POST", headers: SAME_ORIGIN, redirect: "manual" });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/home");
  });

  it("sign the owner in once: a __Host- cookie, HttpOnly, Secure, SameSite=Lax, Path=/", async () => {
    const owner = await createOwner();
    const link = await signInLink(owner.owner_id);
    const res = await call(linkPath(link.url), { method: "POST", headers: SAME_ORIGIN, redirect: "manual" });
    const { attributes } = sessionCookie(res);
    expect(attributes).toMatch(/; HttpOnly/);
    expect(attributes).toMatch(/; Secure/);
    expect(attributes).toMatch(/; SameSite=Lax/);
    expect(attributes).toMatch(/; Path=\//);
    expect(attributes).not.toMatch(/Domain=/i);
  });

  it("work once: a second use, by GET or POST, is a 410 page that says the link was used", async () => {
    const owner = await createOwner();
    const link = await signInLink(owner.owner_id);
    expect((await call(linkPath(link.url), { method: "POST", headers: SAME_ORIGIN, redirect: "manual" })).status).toBe(303);
    for (const method of ["GET", "POST"]) {
      const again = await call(linkPath(link.url), { method, headers: SAME_ORIGIN, redirect: "manual" });
      expect(again.status).toBe(410);
      expect(again.headers.get("set-cookie")).toBeNull();
      expect(await again.text()).toContain("This sign-in link has already been used.");
    }
  });

  it("expire after 15 minutes with a page that says so", async () => {
    const owner = await createOwner();
    const link = await signInLink(owner.owner_id);
    const id = linkPath(link.url).split(".")[1];
    await env.DB.prepare("UPDATE sign_in_tokens SET expires_at = ? WHERE id = ?")
      .bind(Date.now() - 1, id)
      .run();
    const res = await call(linkPath(link.url), { method: "POST", headers: SAME_ORIGIN, redirect: "manual" });
    expect(res.status).toBe(410);
    expect(await res.text()).toContain("This sign-in link has expired.");
  });

  it("with a wrong secret or a malformed token are a 404 page and spend nothing", async () => {
    const owner = await createOwner();
    const link = await signInLink(owner.owner_id);
    const wrong = linkPath(link.url).replace(/\.[^.]+$/, `.${"A".repeat(43)}`);
    expect((await call(wrong, { method: "POST", headers: SAME_ORIGIN })).status).toBe(404);
    expect((await call("/auth/link/not-a-token")).status).toBe(404);
    expect((await call(linkPath(link.url), { method: "POST", headers: SAME_ORIGIN, redirect: "manual" })).status).toBe(303);
  });
});

describe("an owner's session", () => {
  it("is stored hashed with an expiry about 30 days out", async () => {
    const owner = await createOwner();
    const pair = await ownerSession(owner.owner_id);
    const [, id, secret] = pair.split("=")[1]!.split(".");
    const row = await env.DB.prepare("SELECT * FROM sessions WHERE id = ?")
      .bind(id)
      .first<{ secret_hash: string; kind: string; owner_id: string; expires_at: number }>();
    expect(row).toMatchObject({ secret_hash: await sha256Hex(secret!), kind: "owner", owner_id: owner.owner_id });
    expect(row!.expires_at - Date.now()).toBeGreaterThan(29 * 86400_000);
  });

  it("sees exactly what the owner's bearer token sees: their nodes, and another owner's node is the same 404 as a missing one", async () => {
    const nana = await createOwner("Nana");
    const other = await createOwner("Someone else");
    const mine = await enrollNamed(nana, "Kitchen Laptop");
    const theirs = await enrollNamed(other, "Their PC");
    const cookie = await ownerSession(nana.owner_id);
    const list = await call("/api/nodes", { headers: { cookie } });
    expect(list.status).toBe(200);
    const bearer = await call("/api/nodes", { headers: { authorization: `Bearer ${nana.dashboard_token}` } });
    const ids = (body: { items: Array<{ id: string }> }) => body.items.map((n) => n.id);
    expect(ids(await list.json())).toEqual(ids(await bearer.json()));
    expect((await call(`/api/nodes/${mine}`, { headers: { cookie } })).status).toBe(200);
    const foreign = await call(`/api/nodes/${theirs}`, { headers: { cookie } });
    const missing = await call(`/api/nodes/${crypto.randomUUID()}`, { headers: { cookie } });
    expect(foreign.status).toBe(404);
    expect(missing.status).toBe(404);
    expect((await foreign.json<{ error: { code: string } }>()).error.code).toBe(
      (await missing.json<{ error: { code: string } }>()).error.code,
    );
  });

  it("opens no admin route and no IT Support page", async () => {
    const owner = await createOwner();
    const cookie = await ownerSession(owner.owner_id);
    expect((await call("/api/support/bridge", { headers: { cookie } })).status).toBe(401);
    expect((await call("/support", { headers: { cookie } })).status).toBe(403);
  });

  it("shows Nana her computers on /home, names escaped as text", async () => {
    const owner = await createOwner("Nana <b>");
    await enrollNamed(owner, "<img src=x onerror=alert(1)>");
    const cookie = await ownerSession(owner.owner_id);
    const res = await call("/home", { headers: { cookie } });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain("&lt;img src=x onerror=alert(1)&gt;");
    expect(html).not.toContain("<img src=x");
    expect(html).toContain("Hello Nana &lt;b&gt;");
    expect(html).toContain("Not connected yet");
  });

  it("ends at sign-out: the session is revoked and the cookie no longer opens anything", async () => {
    const owner = await createOwner();
    const cookie = await ownerSession(owner.owner_id);
    const out = await call("/auth/sign-out", { method: "POST", headers: { cookie, ...SAME_ORIGIN } });
    expect(out.status).toBe(200);
    expect(out.headers.get("set-cookie")).toMatch(/^__Host-buhdi-session=;.*Max-Age=0/);
    expect((await call("/api/nodes", { headers: { cookie } })).status).toBe(401);
    expect((await call("/home", { headers: { cookie } })).status).toBe(401);
    const id = cookie.split("=")[1]!.split(".")[1];
    const row = await env.DB.prepare("SELECT revoked_at FROM sessions WHERE id = ?").bind(id).first<{ revoked_at: number | null }>();
    expect(row?.revoked_at).toBeGreaterThan(0);
  });

  it("is refused once expired", async () => {
    const owner = await createOwner();
    const cookie = await ownerSession(owner.owner_id);
    const id = cookie.split("=")[1]!.split(".")[1];
    await env.DB.prepare("UPDATE sessions SET expires_at = ? WHERE id = ?")
      .bind(Date.now() - 1, id)
      .run();
    expect((await call("/api/nodes", { headers: { cookie } })).status).toBe(401);
  });
});

describe("IT Support's session", () => {
  it("comes from the admin token on the form, as a SameSite=Strict cookie", async () => {
    const res = await call("/auth/support", {
      method: "POST",
      headers: { ...SAME_ORIGIN, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ admin_token: env.ADMIN_TOKEN }).toString(),
      redirect: "manual",
    });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/support");
    expect(sessionCookie(res).attributes).toMatch(/; SameSite=Strict/);
  });

  it("is refused with a wrong token (401 page) or an empty form (400 naming the field)", async () => {
    const post = (body: string) =>
      call("/auth/support", { method: "POST", headers: { ...SAME_ORIGIN, "content-type": "application/x-www-form-urlencoded" }, body });
    const wrong = await post(new URLSearchParams({ admin_token: "nope" }).toString());
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get("set-cookie")).toBeNull();
    expect(await wrong.text()).toContain("That admin token is not right.");
    const empty = await post("");
    expect(empty.status).toBe(400);
    expect(await empty.text()).toContain("admin_token");
  });

  it("opens the admin API and the support pages, like the admin token", async () => {
    const cookie = await supportSession();
    expect((await call("/api/support/bridge", { headers: { cookie } })).status).toBe(200);
    for (const page of [
      "/support",
      "/support/bridge",
      "/support/known-issues",
      "/support/releases",
      "/support/fleet",
      "/support/invitations",
      "/support/crash-groups",
      "/support/crash-groups/list",
    ]) {
      expect((await call(page, { headers: { cookie } })).status, page).toBe(200);
    }
    expect((await call("/home", { headers: { cookie } })).status).toBe(403);
  });
});

describe("CSRF", () => {
  it("refuses a state-changing request from another origin, even with a valid session", async () => {
    const cookie = await supportSession();
    const owner = await createOwner();
    const refused: Array<Record<string, string>> = [
      { origin: "https://evil.test" },
      { "sec-fetch-site": "cross-site" },
      { "sec-fetch-site": "same-site", origin: BASE },
    ];
    for (const headers of refused) {
      const res = await call(`/api/admin/owners/${owner.owner_id}/sign-in-link`, { method: "POST", headers: { cookie, ...headers } });
      expect(res.status).toBe(403);
      expect((await res.json<{ error: { code: string } }>()).error.code).toBe("cross_origin_refused");
    }
    const res = await call(`/api/admin/owners/${owner.owner_id}/sign-in-link`, { method: "POST", headers: { cookie, ...SAME_ORIGIN } });
    expect(res.status).toBe(201);
  });

  it("refuses a cross-site sign-in or sign-out form (login CSRF) with a page", async () => {
    const owner = await createOwner();
    const link = await signInLink(owner.owner_id);
    const res = await call(linkPath(link.url), {
      method: "POST",
      headers: { origin: "https://evil.test", "sec-fetch-site": "cross-site" },
    });
    expect(res.status).toBe(403);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    // The link was not spent by the refused request.
    expect((await call(linkPath(link.url), { method: "POST", headers: SAME_ORIGIN, redirect: "manual" })).status).toBe(303);
  });

  it("lets Bearer-token clients without browser headers through (nodes, scripts)", async () => {
    const owner = await createOwner();
    const res = await call(`/api/admin/owners/${owner.owner_id}/sign-in-link`, { method: "POST", headers: adminHeaders() });
    expect(res.status).toBe(201);
  });
});

describe("pages", () => {
  it("carry a Content-Security-Policy without inline script, and no inline script tag", async () => {
    const owner = await createOwner();
    const cookie = await ownerSession(owner.owner_id);
    for (const res of [await call("/home", { headers: { cookie } }), await call("/auth/support"), await call("/home")]) {
      const csp = res.headers.get("content-security-policy") ?? "";
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toContain("unsafe-inline");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(res.headers.get("referrer-policy")).toBe("same-origin");
      const html = await res.text();
      expect(html.match(/<script(?![^>]*\ssrc=)[^>]*>/g)).toBeNull();
      expect(html).not.toMatch(/\son[a-z]+=/i);
    }
  });

  it("ask to sign in (401) without a session, and / sends IT Support to its sign-in", async () => {
    expect((await call("/home")).status).toBe(401);
    expect((await call("/support")).status).toBe(401);
    const start = await call("/", { redirect: "manual" });
    expect(start.status).toBe(303);
    expect(start.headers.get("location")).toBe("/auth/support");
  });

  it("validate the fleet's query and say which parameter is wrong", async () => {
    const cookie = await supportSession();
    const res = await call("/support?sort=secret", { headers: { cookie } });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("sort");
  });
});

describe("the crash groups page", () => {
  it("shows each group with its matched known issue and a 24 h sparkline drawn on the server, titles as text", async () => {
    const owner = await createOwner();
    const nodeId = await enrollNamed(owner, "PC");
    const groupId = crypto.randomUUID();
    const now = Date.now();
    await env.DB.prepare(
      "INSERT INTO crash_groups (id, fingerprint, title, first_seen_at, last_seen_at, report_count, node_count, versions, state, known_issue_id) VALUES (?, ?, ?, ?, ?, 3, 1, '[\"0.3.0\"]', 'ticketed', (SELECT id FROM node_known_issues WHERE pattern LIKE '%EADDRINUSE%' LIMIT 1))",
    )
      .bind(groupId, `fp-${groupId}`, "Error: <img src=x onerror=alert(1)>", now - 3 * 3600_000, now)
      .run();
    for (const hoursAgo of [0.5, 0.6, 5]) {
      const telemetryId = crypto.randomUUID();
      await env.DB.prepare(
        "INSERT INTO node_telemetry (id, node_id, owner_id, event_id, type, payload, severity) VALUES (?, ?, ?, ?, 'crash_report', '{}', 'critical')",
      )
        .bind(telemetryId, nodeId, owner.owner_id, crypto.randomUUID())
        .run();
      await env.DB.prepare("INSERT INTO triage_receipts (telemetry_id, group_id, processed_at) VALUES (?, ?, ?)")
        .bind(telemetryId, groupId, now - hoursAgo * 3600_000)
        .run();
    }
    const cookie = await supportSession();
    const res = await call("/support/crash-groups", { headers: { cookie } });
    expect(res.status).toBe(200);
    const html = await res.text();
    const row = html.slice(html.indexOf(`data-group-id="${groupId}"`), html.indexOf("</tr>", html.indexOf(`data-group-id="${groupId}"`)));
    expect(row).toContain("Error: &lt;img src=x onerror=alert(1)&gt;");
    expect(row).toContain("EADDRINUSE");
    expect(row).toContain('aria-label="3 reports in the last 24 hours"');
    expect(row).toMatch(/<polyline points="[\d., ]+"/);
  });
});

describe("the refreshed regions", () => {
  it("of a node's page are its body without the page shell, under the same session rule and 404 for a missing node", async () => {
    const owner = await createOwner();
    const nodeId = await enrollNamed(owner, "<b>Den PC</b>");
    const cookie = await supportSession();
    const page = await (await call(`/support/nodes/${nodeId}`, { headers: { cookie } })).text();
    expect(page).toContain(`data-refresh="/support/nodes/${nodeId}/live"`);
    const live = await call(`/support/nodes/${nodeId}/live`, { headers: { cookie } });
    expect(live.status).toBe(200);
    const body = await live.text();
    expect(body).toContain('data-testid="status"');
    expect(body).toContain('aria-label="Memory: no samples in the last 24 h"');
    expect(body).not.toContain("<html");
    expect((await call(`/support/nodes/${crypto.randomUUID()}/live`, { headers: { cookie } })).status).toBe(404);
    expect((await call(`/support/nodes/${nodeId}/live`, { headers: { cookie: await ownerSession(owner.owner_id) } })).status).toBe(403);
    expect((await call(`/support/nodes/${nodeId}/live`)).status).toBe(401);
  });

  it("of the crash groups page are the groups and tickets without the page shell", async () => {
    const cookie = await supportSession();
    const page = await (await call("/support/crash-groups", { headers: { cookie } })).text();
    expect(page).toContain('data-refresh="/support/crash-groups/list"');
    const list = await call("/support/crash-groups/list", { headers: { cookie } });
    expect(list.status).toBe(200);
    const html = await list.text();
    expect(html).toContain("Open tickets");
    expect(html).not.toContain("<html");
  });
});
