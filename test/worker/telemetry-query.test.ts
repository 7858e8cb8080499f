import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { call, crashReport, createOwner, enrollNode, postTelemetry, type EnrolledNode } from "./helpers.ts";

type Page = {
  items: {
    id: string;
    node_id: string;
    type: string;
    severity: string;
    resolved: boolean;
    created_at: string;
    payload: { entries: string[] };
  }[];
  next_cursor: string | null;
};

function list(token: string, query: string): Promise<Response> {
  return call(`/api/node/telemetry?${query}`, { headers: { authorization: `Bearer ${token}` } });
}

describe("GET /api/node/telemetry", () => {
  let nana: EnrolledNode;
  let nanasDen: EnrolledNode;
  let bob: EnrolledNode;
  const ids: string[] = [];

  beforeAll(async () => {
    nana = await enrollNode(await createOwner("Nana"));
    nanasDen = await enrollNode({ owner_id: nana.owner_id, dashboard_token: nana.dashboard_token });
    bob = await enrollNode(await createOwner("Bob"));
    for (let i = 0; i < 7; i++) {
      const type = i % 2 === 0 ? "crash_report" : "health";
      const res = await postTelemetry(nana.node_key, crashReport({ type, entries: [`event ${i}`] }));
      ids.push((await res.json<{ id: string }>()).id);
    }
    await postTelemetry(nanasDen.node_key, crashReport({ entries: ["den crash"] }));
    await postTelemetry(bob.node_key, crashReport({ entries: ["bob crash"] }));
  });

  it("an owner reads their node's events newest first", async () => {
    const res = await list(nana.dashboard_token, `node_id=${nana.node_id}`);
    expect(res.status).toBe(200);
    const page = await res.json<Page>();
    expect(page.items.map((i) => i.payload.entries[0])).toEqual([6, 5, 4, 3, 2, 1, 0].map((i) => `event ${i}`));
    expect(page.items[0]).toMatchObject({ node_id: nana.node_id, resolved: false, created_at: expect.any(String) });
  });

  it("pages follow the cursor without gaps or repeats", async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await list(nana.dashboard_token, `node_id=${nana.node_id}&limit=3${cursor ? `&cursor=${cursor}` : ""}`);
      const page = await res.json<Page>();
      seen.push(...page.items.map((i) => i.id));
      cursor = page.next_cursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual([...ids].reverse());
  });

  it("events with the same timestamp are still paged in a stable order", async () => {
    await env.DB.prepare("UPDATE node_telemetry SET created_at = 1764288000000 WHERE node_id = ?").bind(nanasDen.node_id).run();
    const extra = await enrollNode({ owner_id: nana.owner_id, dashboard_token: nana.dashboard_token });
    for (let i = 0; i < 4; i++) await postTelemetry(extra.node_key, crashReport());
    await env.DB.prepare("UPDATE node_telemetry SET created_at = 1764288000000 WHERE node_id = ?").bind(extra.node_id).run();
    const seen = new Set<string>();
    let cursor: string | null = null;
    do {
      const page: Page = await (
        await list(nana.dashboard_token, `node_id=${extra.node_id}&limit=1${cursor ? `&cursor=${cursor}` : ""}`)
      ).json();
      for (const item of page.items) seen.add(item.id);
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen.size).toBe(4);
  });

  it("unresolved=true leaves out resolved events", async () => {
    await env.DB.prepare("UPDATE node_telemetry SET resolved = 1 WHERE id = ?").bind(ids[0]).run();
    const page = await (await list(nana.dashboard_token, `node_id=${nana.node_id}&unresolved=true`)).json<Page>();
    expect(page.items.map((i) => i.id)).not.toContain(ids[0]);
    expect(page.items).toHaveLength(6);
  });

  it("without node_id an owner sees all of their nodes and nobody else's", async () => {
    const page = await (await list(nana.dashboard_token, "limit=200")).json<Page>();
    const nodes = new Set(page.items.map((i) => i.node_id));
    expect(nodes.has(nana.node_id) && nodes.has(nanasDen.node_id)).toBe(true);
    expect(nodes.has(bob.node_id)).toBe(false);
  });

  it("another owner's node answers 404, the same as a node that does not exist", async () => {
    const theirs = await list(bob.dashboard_token, `node_id=${nana.node_id}`);
    const missing = await list(bob.dashboard_token, `node_id=${crypto.randomUUID()}`);
    expect(theirs.status).toBe(404);
    expect(missing.status).toBe(404);
    const [a, b] = [await theirs.json<{ error: { code: string } }>(), await missing.json<{ error: { code: string } }>()];
    expect(a.error.code).toBe(b.error.code);
  });

  it("the admin token sees every owner's nodes", async () => {
    expect((await list(env.ADMIN_TOKEN, `node_id=${bob.node_id}`)).status).toBe(200);
    const page = await (await list(env.ADMIN_TOKEN, "limit=200")).json<Page>();
    const nodes = new Set(page.items.map((i) => i.node_id));
    expect(nodes.has(bob.node_id) && nodes.has(nana.node_id)).toBe(true);
  });

  it("a node key or a wrong token cannot read telemetry", async () => {
    expect((await list(nana.node_key, `node_id=${nana.node_id}`)).status).toBe(401);
    expect((await list("bdt.x.y", `node_id=${nana.node_id}`)).status).toBe(401);
    expect((await call(`/api/node/telemetry?node_id=${nana.node_id}`)).status).toBe(401);
  });

  it.each([
    ["node_id=nope", "node_id"],
    ["limit=0", "limit"],
    ["limit=1000", "limit"],
    ["limit=ten", "limit"],
    ["unresolved=yes", "unresolved"],
    ["cursor=not-a-cursor", "cursor"],
  ])("a bad query (%s) is refused with 400 naming %s", async (query, path) => {
    const res = await list(nana.dashboard_token, query);
    expect(res.status).toBe(400);
    const body = await res.json<{ error: { code: string; issues: { path: string }[] } }>();
    expect(body.error.code).toBe("invalid_query");
    expect(body.error.issues.map((i) => i.path)).toContain(path);
  });
});
