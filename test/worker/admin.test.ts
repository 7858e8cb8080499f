import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { adminHeaders, adminPost, call } from "./helpers.ts";

describe("admin API", () => {
  it("creating an owner returns a dashboard token that is stored only as a hash", async () => {
    const res = await adminPost("/api/admin/owners", { email: "Nana@Example.com", name: "Nana" });
    expect(res.status).toBe(201);
    const body = await res.json<{ owner_id: string; dashboard_token: string }>();
    const row = await env.DB.prepare("SELECT * FROM owners WHERE id = ?").bind(body.owner_id).first<Record<string, string>>();
    expect(row).toMatchObject({ email: "nana@example.com", name: "Nana" });
    expect(JSON.stringify(row)).not.toContain(body.dashboard_token.split(".")[2]);
  });

  it("a second owner with the same email is refused with 409", async () => {
    expect((await adminPost("/api/admin/owners", { email: "twice@example.com", name: "A" })).status).toBe(201);
    const res = await adminPost("/api/admin/owners", { email: "TWICE@example.com", name: "B" });
    expect(res.status).toBe(409);
  });

  it("an owner without a valid email is refused with 400 naming email", async () => {
    const res = await adminPost("/api/admin/owners", { email: "nana", name: "" });
    expect(res.status).toBe(400);
    const body = await res.json<{ error: { issues: { path: string }[] } }>();
    expect(body.error.issues.map((i) => i.path).sort()).toEqual(["email", "name"]);
  });

  it("an enrollment code for an unknown owner is refused with 404", async () => {
    const res = await adminPost("/api/admin/enrollments", { owner_id: crypto.randomUUID(), node_name: "PC" });
    expect(res.status).toBe(404);
  });

  it("enrollment codes are stored hashed, never in clear", async () => {
    const owner = await (await adminPost("/api/admin/owners", { email: "codes@example.com", name: "C" })).json<{ owner_id: string }>();
    const { code } = await (await adminPost("/api/admin/enrollments", { owner_id: owner.owner_id, node_name: "PC" })).json<{
      code: string;
    }>();
    const rows = await env.DB.prepare("SELECT * FROM enrollment_codes").all();
    expect(JSON.stringify(rows.results)).not.toContain(code);
  });

  it("the known issues include the two seeded rows", async () => {
    const res = await call("/api/admin/known-issues", { headers: adminHeaders() });
    expect(res.status).toBe(200);
    const { items } = await res.json<{ items: { pattern: string; fix_type: string; fix_version: string; auto_resolve: boolean }[] }>();
    expect(items).toEqual([
      expect.objectContaining({ pattern: "EADDRINUSE", fix_type: "update", fix_version: "0.3.1", auto_resolve: true }),
      expect.objectContaining({
        pattern: "process.exit.*watchdog.*max uptime",
        fix_type: "update",
        fix_version: "0.3.1",
        auto_resolve: true,
      }),
    ]);
  });

  it.each([
    ["no token", {}],
    ["a wrong token", { authorization: "Bearer wrong" }],
    ["a non-bearer scheme", { authorization: `Basic ${"x"}` }],
  ])("the admin API refuses %s with 401", async (_what, headers) => {
    const res = await call("/api/admin/known-issues", { headers });
    expect(res.status).toBe(401);
  });

  it("an owner's dashboard token does not open the admin API", async () => {
    const owner = await (await adminPost("/api/admin/owners", { email: "notadmin@example.com", name: "N" })).json<{
      dashboard_token: string;
    }>();
    const res = await call("/api/admin/known-issues", { headers: { authorization: `Bearer ${owner.dashboard_token}` } });
    expect(res.status).toBe(401);
  });

  it("an unknown route answers 404 in the API's error shape", async () => {
    const res = await call("/api/nope");
    expect(res.status).toBe(404);
    expect((await res.json<{ error: { code: string } }>()).error.code).toBe("not_found");
  });
});
