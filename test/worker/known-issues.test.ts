import { describe, expect, it } from "vitest";
import { ENOENT_CRASH, TYPE_ERROR_CRASH } from "../fixtures/crashes.ts";
import { adminHeaders, adminPost, call, enrollNode } from "./helpers.ts";
import { deliver, ingestCrash } from "./triage-helpers.ts";

type Issue = { id: string; pattern: string; enabled: boolean; fix_type: string; hit_count: number };
type ErrorBody = { error: { code: string; issues: { path: string; message: string }[] } };

function patch(id: string, body: unknown) {
  return call(`/api/admin/known-issues/${id}`, { method: "PATCH", headers: adminHeaders(), body: JSON.stringify(body) });
}

describe("known issues admin API", () => {
  it("creates, updates, disables and lists a known issue", async () => {
    const created = await adminPost("/api/admin/known-issues", { pattern: "EACCES", description: "no permission", fix_type: "manual" });
    expect(created.status).toBe(201);
    const issue = await created.json<Issue>();
    expect(issue).toMatchObject({ pattern: "EACCES", enabled: true, hit_count: 0 });
    const updated = await patch(issue.id, { pattern: "EACCES|EPERM" });
    expect((await updated.json<Issue>()).pattern).toBe("EACCES|EPERM");
    const disabled = await call(`/api/admin/known-issues/${issue.id}/disable`, { method: "POST", headers: adminHeaders() });
    expect((await disabled.json<Issue>()).enabled).toBe(false);
    const list = await (await call("/api/admin/known-issues", { headers: adminHeaders() })).json<{ items: Issue[] }>();
    expect(list.items.find((i) => i.id === issue.id)).toMatchObject({ enabled: false, pattern: "EACCES|EPERM" });
  });

  it.each([
    ["a backreference", "(a)\\1", "backreference"],
    ["a lookahead", "foo(?=bar)", "lookahead"],
    ["a pattern that does not compile", "([unclosed", ""],
  ])("%s is refused with 400 and a reason at pattern", async (_what, pattern, reason) => {
    const res = await adminPost("/api/admin/known-issues", { pattern, fix_type: "manual" });
    expect(res.status).toBe(400);
    const body = await res.json<ErrorBody>();
    expect(body.error.issues[0]!.path).toBe("pattern");
    expect(body.error.issues[0]!.message.toLowerCase()).toContain(reason);
  });

  it("a pattern that would backtrack catastrophically elsewhere is accepted because it runs in linear time here", async () => {
    const res = await adminPost("/api/admin/known-issues", { pattern: "(a+)+$", fix_type: "manual", enabled: false });
    expect(res.status).toBe(201);
  });

  it("an update fix without a fix_version, or a config_change without instructions, is refused", async () => {
    const update = await adminPost("/api/admin/known-issues", { pattern: "x", fix_type: "update" });
    expect((await update.json<ErrorBody>()).error.issues[0]!.path).toBe("fix_version");
    const config = await adminPost("/api/admin/known-issues", { pattern: "x", fix_type: "config_change" });
    expect((await config.json<ErrorBody>()).error.issues[0]!.path).toBe("fix_instructions");
  });

  it("a bad pattern in an update is refused and the stored issue is unchanged", async () => {
    const issue = await (await adminPost("/api/admin/known-issues", { pattern: "keep-me", fix_type: "manual" })).json<Issue>();
    expect((await patch(issue.id, { pattern: "(?<=x)y" })).status).toBe(400);
    const list = await (await call("/api/admin/known-issues", { headers: adminHeaders() })).json<{ items: Issue[] }>();
    expect(list.items.find((i) => i.id === issue.id)!.pattern).toBe("keep-me");
  });

  it("an unknown known issue is 404", async () => {
    expect((await patch(crypto.randomUUID(), { enabled: true })).status).toBe(404);
  });

  it("testing a pattern lists the stored crash groups it would match, before it is enabled", async () => {
    const node = await enrollNode();
    await deliver([await ingestCrash(node, ENOENT_CRASH), await ingestCrash(node, TYPE_ERROR_CRASH)]);
    const issue = await (
      await adminPost("/api/admin/known-issues", { pattern: "no such file or directory", fix_type: "manual", enabled: false })
    ).json<Issue>();
    const res = await call(`/api/admin/known-issues/${issue.id}/test`, { method: "POST", headers: adminHeaders() });
    expect(res.status).toBe(200);
    const body = await res.json<{ enabled: boolean; checked_groups: number; matches: { title: string }[] }>();
    expect(body.enabled).toBe(false);
    expect(body.checked_groups).toBeGreaterThanOrEqual(2);
    expect(body.matches).toHaveLength(1);
    expect(body.matches[0]!.title).toContain("ENOENT");
  });

  it("a disabled known issue is not matched by triage", async () => {
    const issue = await (
      await adminPost("/api/admin/known-issues", { pattern: "Cannot read properties", fix_type: "self_healing" })
    ).json<Issue>();
    await call(`/api/admin/known-issues/${issue.id}/disable`, { method: "POST", headers: adminHeaders() });
    const node = await enrollNode();
    const id = await ingestCrash(node, TYPE_ERROR_CRASH);
    await deliver([id]);
    const res = await call(`/api/support/resolutions?node_id=${node.node_id}`, { headers: adminHeaders() });
    const { items } = await res.json<{ items: { known_issue_id: string | null; action: string }[] }>();
    expect(items).toEqual([expect.objectContaining({ known_issue_id: null, action: "ticket" })]);
  });
});
