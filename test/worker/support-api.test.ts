import { describe, expect, it } from "vitest";
import { EADDRINUSE_CRASH_LOOP, ENOENT_CRASH, JSON_PARSE_REJECTION, TYPE_ERROR_CRASH } from "../fixtures/crashes.ts";
import { adminHeaders, call, enrollNode } from "./helpers.ts";
import { deliver, ingestCrash } from "./triage-helpers.ts";

type Page<T> = { items: T[]; next_cursor: string | null };

async function all<T>(path: string): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | null = null;
  do {
    const sep = path.includes("?") ? "&" : "?";
    const res = await call(`${path}${sep}limit=2${cursor ? `&cursor=${cursor}` : ""}`, { headers: adminHeaders() });
    expect(res.status).toBe(200);
    const page: Page<T> = await res.json();
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return items;
}

describe("support API", () => {
  it("lists crash groups, tickets and resolutions newest first across pages", async () => {
    const node = await enrollNode();
    for (const crash of [EADDRINUSE_CRASH_LOOP, ENOENT_CRASH, TYPE_ERROR_CRASH, JSON_PARSE_REJECTION]) {
      await deliver([await ingestCrash(node, crash)]);
    }
    const groups = await all<{
      title: string;
      report_count: number;
      node_count: number;
      versions: string[];
      state: string;
      known_issue_id: string | null;
    }>("/api/support/crash-groups");
    expect(groups).toHaveLength(4);
    expect(groups.at(-1)).toMatchObject({
      state: "waiting_for_release",
      versions: ["0.3.0"],
      node_count: 1,
      report_count: 1,
      known_issue_id: expect.any(String),
    });
    expect(groups[0]!.title).toContain("SyntaxError");
    const tickets = await all<{ tags: string[]; status: string }>("/api/support/tickets");
    expect(tickets).toHaveLength(3);
    const resolutions = await all<{ node_id: string }>(`/api/support/resolutions?node_id=${node.node_id}`);
    expect(resolutions).toHaveLength(4);
  });

  it("bridge messages stay pending until IT Support acknowledges them", async () => {
    const node = await enrollNode();
    const id = await ingestCrash(node, TYPE_ERROR_CRASH);
    await deliver([id]);
    const pending = await all<{ id: string; telemetry_id: string; status: string }>("/api/support/bridge?status=pending");
    const message = pending.find((m) => m.telemetry_id === id)!;
    expect(message.status).toBe("pending");
    const ack = await call(`/api/support/bridge/${message.id}/ack`, { method: "POST", headers: adminHeaders() });
    expect(ack.status).toBe(200);
    expect((await ack.json<{ status: string; acked_at: string }>()).status).toBe("acked");
    const again = await call(`/api/support/bridge/${message.id}/ack`, { method: "POST", headers: adminHeaders() });
    expect(again.status).toBe(200);
    const stillPending = await all<{ id: string }>("/api/support/bridge?status=pending");
    expect(stillPending.map((m) => m.id)).not.toContain(message.id);
    expect((await call(`/api/support/bridge/${crypto.randomUUID()}/ack`, { method: "POST", headers: adminHeaders() })).status).toBe(404);
  });

  it("the support API is for the admin token only", async () => {
    const node = await enrollNode();
    for (const path of ["/api/support/crash-groups", "/api/support/tickets", "/api/support/bridge"]) {
      expect((await call(path, { headers: { authorization: `Bearer ${node.dashboard_token}` } })).status).toBe(401);
    }
  });

  it("a bad status filter is refused with 400", async () => {
    expect((await call("/api/support/bridge?status=maybe", { headers: adminHeaders() })).status).toBe(400);
  });
});
