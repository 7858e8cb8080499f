import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { adminPost, call, createOwner, enrollmentCodeFor } from "./helpers.ts";

function enroll(code: string, extra: Record<string, unknown> = {}) {
  return call("/api/enroll", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ code, os: "linux", arch: "arm64", version: "0.3.0", ...extra }),
  });
}

describe("enrollment", () => {
  it("a fresh code enrolls a node and returns a key that is stored only as a hash", async () => {
    const owner = await createOwner();
    const code = await enrollmentCodeFor(owner.owner_id, "Kitchen Laptop");
    const res = await enroll(code);
    expect(res.status).toBe(201);
    const body = await res.json<{ node_id: string; node_key: string }>();
    const secret = body.node_key.split(".")[2]!;
    // ≥128 bits: 32 random bytes in base64url are 43 characters.
    expect(secret.length).toBeGreaterThanOrEqual(43);
    const row = await env.DB.prepare("SELECT * FROM nodes WHERE id = ?").bind(body.node_id).first<Record<string, unknown>>();
    expect(row).toMatchObject({ owner_id: owner.owner_id, name: "Kitchen Laptop", os: "linux", arch: "arm64", version: "0.3.0" });
    expect(JSON.stringify(row)).not.toContain(secret);
  });

  it("two enrollments give different keys", async () => {
    const owner = await createOwner();
    const a = await (await enroll(await enrollmentCodeFor(owner.owner_id))).json<{ node_key: string }>();
    const b = await (await enroll(await enrollmentCodeFor(owner.owner_id))).json<{ node_key: string }>();
    expect(a.node_key).not.toBe(b.node_key);
  });

  it("codes are accepted in lower case and with surrounding spaces", async () => {
    const owner = await createOwner();
    const code = await enrollmentCodeFor(owner.owner_id);
    expect((await enroll(`  ${code.toLowerCase()} `)).status).toBe(201);
  });

  it("a reused enrollment code is refused with 410 enrollment_code_used", async () => {
    const owner = await createOwner();
    const code = await enrollmentCodeFor(owner.owner_id);
    expect((await enroll(code)).status).toBe(201);
    const again = await enroll(code);
    expect(again.status).toBe(410);
    expect((await again.json<{ error: { code: string } }>()).error.code).toBe("enrollment_code_used");
    const nodes = await env.DB.prepare("SELECT count(*) AS n FROM nodes WHERE owner_id = ?").bind(owner.owner_id).first<{ n: number }>();
    expect(nodes?.n).toBe(1);
  });

  it("racing enrollments with one code create exactly one node", async () => {
    const owner = await createOwner();
    const code = await enrollmentCodeFor(owner.owner_id);
    const results = await Promise.all([enroll(code), enroll(code), enroll(code)]);
    expect(results.map((r) => r.status).sort()).toEqual([201, 410, 410]);
    const nodes = await env.DB.prepare("SELECT count(*) AS n FROM nodes WHERE owner_id = ?").bind(owner.owner_id).first<{ n: number }>();
    expect(nodes?.n).toBe(1);
  });

  it("an expired code is refused with 410 enrollment_code_expired", async () => {
    const owner = await createOwner();
    const code = await enrollmentCodeFor(owner.owner_id);
    await env.DB.prepare("UPDATE enrollment_codes SET expires_at = ?")
      .bind(Date.now() - 1000)
      .run();
    const res = await enroll(code);
    expect(res.status).toBe(410);
    expect((await res.json<{ error: { code: string; message: string } }>()).error).toMatchObject({
      code: "enrollment_code_expired",
      message: expect.stringContaining("expired"),
    });
  });

  it("an unknown code is refused with 404 enrollment_code_unknown", async () => {
    const res = await enroll("ABCD-EFGH-JKMN-PQRS");
    expect(res.status).toBe(404);
    expect((await res.json<{ error: { code: string } }>()).error.code).toBe("enrollment_code_unknown");
  });

  it("a malformed enrollment request names each bad field", async () => {
    const res = await call("/api/enroll", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ code: "nope", os: "Windows 11", version: "latest" }),
    });
    expect(res.status).toBe(400);
    const body = await res.json<{ error: { issues: { path: string }[] } }>();
    expect(body.error.issues.map((i) => i.path).sort()).toEqual(["arch", "code", "os", "version"]);
  });

  it("codes expire after 7 days by default", async () => {
    const owner = await createOwner();
    const res = await adminPost("/api/admin/enrollments", { owner_id: owner.owner_id, node_name: "Den PC" });
    const { expires_at } = await res.json<{ expires_at: string }>();
    const days = (Date.parse(expires_at) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(6.99);
    expect(days).toBeLessThanOrEqual(7);
  });
});
