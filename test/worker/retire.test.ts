/**
 * A node retired by uninstall (POST /api/node/retire): "retired" with its date in the node APIs
 * and both dashboards, its key and socket refused, no offline warning however long it is silent,
 * no command and no release for it. D1 has the last word, even over a Durable Object that missed
 * the retirement.
 */
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { LiveState } from "../../worker/node-session/live-state.ts";
import type { NodeSession } from "../../worker/node-session/node-session.ts";
import { adminHeaders, call, enrollNode, type EnrolledNode, ownerSessionCookie, supportSessionCookie } from "./helpers.ts";
import { connect, eventsOf, heartbeat, nodeRow, sessionOf } from "./live-helpers.ts";

type NodeView = { id: string; status: string; connected: boolean; retired_at: string | null };

async function retire(node: EnrolledNode): Promise<string> {
  const res = await call("/api/node/retire", { method: "POST", headers: { "x-node-key": node.node_key } });
  expect(res.status).toBe(200);
  return (await res.json<{ retired_at: string }>()).retired_at;
}

async function view(nodeId: string): Promise<NodeView> {
  const res = await call(`/api/nodes/${nodeId}`, { headers: adminHeaders() });
  expect(res.status).toBe(200);
  return res.json();
}

describe("a retired node", () => {
  it("shows as retired, with when, in the node list and detail; its key and its socket are refused", async () => {
    const node = await enrollNode();
    const socket = await connect(node);
    socket.send(heartbeat(node));
    await socket.next("heartbeat_ack");
    expect((await view(node.node_id)).status).toBe("online");

    const retiredAt = await retire(node);
    expect(await socket.closed).toMatchObject({ code: 4003 });
    expect(await view(node.node_id)).toMatchObject({ status: "retired", connected: false, retired_at: retiredAt });
    const list = await (await call("/api/nodes?limit=100", { headers: adminHeaders() })).json<{ items: NodeView[] }>();
    expect(list.items.find((n) => n.id === node.node_id)).toMatchObject({ status: "retired", retired_at: retiredAt });
    expect((await nodeRow(node.node_id))!.status).toBe("retired");
    // A live node is not retired and says so: retired_at is null.
    const other = await enrollNode();
    expect((await view(other.node_id)).retired_at).toBeNull();

    expect((await call("/api/node/versions", { headers: { "x-node-key": node.node_key } })).status).toBe(401);
    const again = await call("/api/node/connect", { headers: { upgrade: "websocket", "x-node-key": node.node_key } });
    expect(again.status).toBe(401);
  });

  it("raises no offline warning, however long it stays silent, and stays retired in D1", async () => {
    const node = await enrollNode();
    const socket = await connect(node);
    socket.send(heartbeat(node));
    await socket.next("heartbeat_ack");
    await retire(node);
    await socket.closed;
    // Its last sign of life an hour ago, and the alarm run: a live node would be offline by now.
    await runInDurableObject(sessionOf(node.node_id), async (_instance: NodeSession, state) => {
      const live = (await state.storage.get<LiveState>("live"))!;
      await state.storage.put("live", { ...live, lastSeenAt: Date.now() - 3600_000 });
      await state.storage.setAlarm(Date.now() + 60_000);
    });
    await evictDurableObject(sessionOf(node.node_id));
    await runDurableObjectAlarm(sessionOf(node.node_id));
    expect(await eventsOf(node.node_id, "node_offline")).toHaveLength(0);
    expect((await view(node.node_id)).status).toBe("retired");
    expect((await nodeRow(node.node_id))!.status).toBe("retired");
  });

  it("gets no command: IT Support is told it was uninstalled (409), and nothing is queued", async () => {
    const node = await enrollNode();
    await retire(node);
    const res = await call(`/api/admin/nodes/${node.node_id}/commands`, {
      method: "POST",
      headers: adminHeaders(),
      body: JSON.stringify({ type: "CONFIG_CHANGE", payload: { log_level: "debug" } }),
    });
    expect(res.status).toBe(409);
    expect((await res.json<{ error: { code: string; message: string } }>()).error).toMatchObject({
      code: "node_retired",
      message: expect.stringContaining("uninstalled"),
    });
    const list = await (await call(`/api/admin/nodes/${node.node_id}/commands`, { headers: adminHeaders() })).json<{ items: unknown[] }>();
    expect(list.items).toEqual([]);
    // Triage goes straight to the Durable Object: it stores nothing for a retired node either.
    const queued = await sessionOf(node.node_id).enqueueCommand(
      { nodeId: node.node_id, ownerId: node.owner_id },
      { type: "CONFIG_CHANGE", payloadJson: "{}", ttlSeconds: 60 },
    );
    expect(queued).toMatchObject({ sent: false, retired: true });
    expect(await sessionOf(node.node_id).commands()).toEqual([]);
  });

  it("reads 'Removed from this computer on <date>' on Nana's page, and 'retired' on IT Support's fleet and its filter", async () => {
    const node = await enrollNode();
    const retiredAt = await retire(node);
    const nana = await call("/home", { headers: { cookie: await ownerSessionCookie(node.owner_id) } });
    expect(nana.status).toBe(200);
    const card = await nana.text();
    expect(card).toContain("Removed from this computer on ");
    expect(card).toContain(
      `<time datetime="${retiredAt}" data-local="datetime">${retiredAt.slice(0, 10)} ${retiredAt.slice(11, 16)} UTC</time>`,
    );

    const support = await supportSessionCookie();
    const fleet = await (await call("/support/fleet?status=retired&sort=name", { headers: { cookie: support } })).text();
    expect(fleet).toContain(`data-node-id="${node.node_id}"`);
    expect(fleet).toMatch(
      new RegExp(`data-node-id="${node.node_id}"[\\s\\S]*?<td class="status-retired" data-testid="status">retired</td>`),
    );
    const online = await (await call("/support/fleet?status=online", { headers: { cookie: support } })).text();
    expect(online).not.toContain(`data-node-id="${node.node_id}"`);
    const detail = await (await call(`/support/nodes/${node.node_id}`, { headers: { cookie: support } })).text();
    expect(detail).toContain("retired");
    expect(detail).toContain("(uninstalled ");
  });

  it("stays retired when its Durable Object missed the retirement and reports the node online afterwards", async () => {
    const node = await enrollNode();
    const socket = await connect(node);
    // As if the retire call had written D1 and then failed to reach the Durable Object.
    await env.DB.prepare("UPDATE nodes SET status = 'retired', status_changed_at = ?1 WHERE id = ?2").bind(Date.now(), node.node_id).run();
    socket.send(heartbeat(node, { version: "0.3.1" })); // a change D1 must hear about
    await socket.next("heartbeat_ack");
    expect((await nodeRow(node.node_id))!).toMatchObject({ status: "retired" });
    expect((await view(node.node_id)).status).toBe("retired");
    socket.ws.close();
  });
});
