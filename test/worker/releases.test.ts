import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { EADDRINUSE_CRASH_LOOP } from "../fixtures/crashes.ts";
import type { QueueMessage } from "../../worker/queue.ts";
import { type PushMessage, type PushPageMessage, runPushMessage } from "../../worker/releases/push-fanout.ts";
import { inRollout } from "../../worker/releases/rollout.ts";
import { callWith, deliverMessages } from "./email-helpers.ts";
import { adminHeaders, call, crashReport, createOwner, enrollNode, postTelemetry } from "./helpers.ts";
import { bundleOf, callTrusting, publishBundle, type SigningKey, signedManifest, signingKey } from "./release-helpers.ts";
import { count, deliver, ingestCrash, row } from "./triage-helpers.ts";

let key: SigningKey;
let other: SigningKey;

beforeAll(async () => {
  key = await signingKey();
  other = await signingKey();
});

function register(body: unknown, keys: SigningKey[] = [key]) {
  return callTrusting(keys, "/api/admin/releases", { method: "POST", headers: adminHeaders(), body: JSON.stringify(body) });
}

async function publish(version: string, text = `console.log("buhdi-node ${version}")`) {
  const bytes = bundleOf(text);
  await publishBundle(version, bytes);
  const res = await register(await signedManifest(key, bytes, { version }));
  expect(res.status).toBe(201);
  return res.json<{ version: string; pushed_to_waiting_nodes: number }>();
}

type ErrorBody = { error: { code: string; issues: { path: string; message: string }[] } };

describe("registering a release", () => {
  it("a release signed by a trusted key whose bundle is in R2 is registered once", async () => {
    const bytes = bundleOf("bundle 0.4.0");
    await publishBundle("0.4.0", bytes);
    const body = await signedManifest(key, bytes, { version: "0.4.0" });
    const res = await register(body);
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({
      version: "0.4.0",
      channel: "stable",
      status: "active",
      rollout_percent: 100,
      size: bytes.byteLength,
    });
    expect((await register(body)).status).toBe(409);
  });

  it.each([
    [
      "a signature by a key the edge does not trust",
      async (bytes: Uint8Array) => signedManifest(other, bytes, { version: "0.4.1" }),
      "signature",
      422,
    ],
    [
      "a signature over another manifest",
      async (bytes: Uint8Array) => ({
        ...(await signedManifest(key, bytes, { version: "0.4.1" })),
        manifest: JSON.stringify({ version: "0.4.1" }),
      }),
      "manifest.channel",
      400,
    ],
    [
      "a manifest whose size is not the bundle's",
      async (bytes: Uint8Array) => signedManifest(key, bytes, { version: "0.4.1", size: bytes.byteLength + 1 }),
      "manifest.size",
      422,
    ],
    [
      "a manifest whose sha256 is not the bundle's",
      async (bytes: Uint8Array) => signedManifest(key, bytes, { version: "0.4.1", sha256: "0".repeat(64) }),
      "manifest.sha256",
      422,
    ],
    [
      "a manifest that has expired",
      async (bytes: Uint8Array) => signedManifest(key, bytes, { version: "0.4.1", expires_at: "2020-01-01T00:00:00Z" }),
      "manifest.expires_at",
      400,
    ],
    [
      "a release whose bundle was never uploaded",
      async (bytes: Uint8Array) => signedManifest(key, bytes, { version: "0.9.9" }),
      "manifest.version",
      422,
    ],
  ] as const)("%s is refused, naming the problem", async (_what, make, path, status) => {
    const bytes = bundleOf("bundle 0.4.1");
    await publishBundle("0.4.1", bytes);
    const res = await register(await make(bytes));
    expect(res.status).toBe(status);
    expect((await res.json<ErrorBody>()).error.issues[0]!.path).toBe(path);
  });

  it("a tampered signature does not verify", async () => {
    const bytes = bundleOf("bundle 0.4.2");
    await publishBundle("0.4.2", bytes);
    const body = await signedManifest(key, bytes, { version: "0.4.2" });
    const flipped = body.signature.startsWith("A") ? `B${body.signature.slice(1)}` : `A${body.signature.slice(1)}`;
    const res = await register({ ...body, signature: flipped });
    expect(res.status).toBe(422);
  });
});

describe("what nodes get", () => {
  it("a node is offered the newest active release, signed, and can download it with resume", async () => {
    const node = await enrollNode();
    await publish("1.0.0", "0123456789abcdefghij");
    const offer = await callTrusting([key], "/api/node/versions?channel=stable", { headers: { "x-node-key": node.node_key } });
    const { latest } = await offer.json<{
      latest: { version: string; manifest: string; signature: string; key_id: string; download_path: string };
    }>();
    expect(latest).toMatchObject({ version: "1.0.0", key_id: key.keyId, download_path: "/api/node/releases/1.0.0/bundle" });
    expect(JSON.parse(latest.manifest).version).toBe("1.0.0");

    const full = await call(latest.download_path, { headers: { "x-node-key": node.node_key } });
    expect(full.status).toBe(200);
    // Nothing on the way may compress it: the node checks the sha256 of the raw bytes.
    expect(full.headers.get("cache-control")).toBe("no-transform");
    const etag = full.headers.get("etag")!;
    expect(await full.text()).toBe("0123456789abcdefghij");
    const resumed = await call(latest.download_path, { headers: { "x-node-key": node.node_key, range: "bytes=10-" } });
    expect(resumed.status).toBe(206);
    expect(resumed.headers.get("content-range")).toBe("bytes 10-19/20");
    expect(await resumed.text()).toBe("abcdefghij");
    const unchanged = await call(latest.download_path, { headers: { "x-node-key": node.node_key, "if-none-match": etag } });
    expect(unchanged.status).toBe(304);
    expect((await call(latest.download_path)).status).toBe(401);
  });

  it("halted and yanked releases are not offered; a yanked bundle is gone", async () => {
    const node = await enrollNode();
    await publish("2.0.0");
    const halted = await call("/api/admin/releases/2.0.0/halt", {
      method: "POST",
      headers: adminHeaders(),
      body: JSON.stringify({ reason: "testing" }),
    });
    expect(halted.status).toBe(200);
    const offer = await (await call("/api/node/versions", { headers: { "x-node-key": node.node_key } })).json<{
      latest: { version: string } | null;
    }>();
    expect(offer.latest?.version).not.toBe("2.0.0");
    await call("/api/admin/releases/2.0.0/yank", { method: "POST", headers: adminHeaders() });
    expect((await call("/api/node/releases/2.0.0/bundle", { headers: { "x-node-key": node.node_key } })).status).toBe(410);
    expect((await call("/api/admin/releases/2.0.0/resume", { method: "POST", headers: adminHeaders() })).status).toBe(409);
  });

  it("rollout is a stable percentage of nodes: widening it keeps everyone already in", async () => {
    const ids = Array.from({ length: 400 }, () => crypto.randomUUID());
    const at = async (percent: number) => (await Promise.all(ids.map((id) => inRollout(id, "3.0.0", percent)))).map(Boolean);
    const ten = await at(10);
    const fifty = await at(50);
    const share = (xs: boolean[]) => xs.filter(Boolean).length / xs.length;
    expect(share(ten)).toBeGreaterThan(0.04);
    expect(share(ten)).toBeLessThan(0.18);
    expect(share(fifty)).toBeGreaterThan(0.4);
    expect(share(fifty)).toBeLessThan(0.6);
    expect(ten.every((inTen, i) => !inTen || fifty[i])).toBe(true);
    expect((await at(0)).some(Boolean)).toBe(false);
  });

  it("a node outside the rollout is not offered the release", async () => {
    await publish("4.0.0");
    const res = await call("/api/admin/releases/4.0.0/rollout", {
      method: "POST",
      headers: adminHeaders(),
      body: JSON.stringify({ percent: 0 }),
    });
    expect(res.status).toBe(200);
    const node = await enrollNode();
    const offer = await (await call("/api/node/versions", { headers: { "x-node-key": node.node_key } })).json<{
      latest: { version: string } | null;
    }>();
    expect(offer.latest?.version).not.toBe("4.0.0");
  });
});

/** A Queue that only records what is sent to it: the test runs the consumer on it by hand. */
function capturingQueue(sent: QueueMessage[]): Queue<QueueMessage> {
  return {
    async send(body: QueueMessage) {
      sent.push(body);
    },
    async sendBatch(messages: Iterable<MessageSendRequest<QueueMessage>>) {
      for (const m of messages) sent.push(m.body);
    },
  } as unknown as Queue<QueueMessage>; // the two methods the Worker calls
}

/** The whole-rollout push over HTTP, then its Queue messages through the consumer until none is left; their kinds. */
async function pushToRollout(version: string): Promise<string[]> {
  const sent: QueueMessage[] = [];
  const queue = capturingQueue(sent);
  const res = await callWith({ TRIAGE_QUEUE: queue }, `/api/admin/releases/${version}/push`, {
    method: "POST",
    headers: adminHeaders(),
    body: "{}",
  });
  expect(res.status).toBe(202);
  expect(await res.json()).toEqual({ version, fanout: "queued" });
  const kinds: string[] = [];
  for (let hop = 0; sent.length > 0 && hop < 10; hop++) {
    const batch = sent.splice(0);
    kinds.push(...batch.map((m) => ("kind" in m ? m.kind : "triage")));
    expect((await deliverMessages(batch, { TRIAGE_QUEUE: queue })).retried).toEqual([]);
  }
  expect(sent).toEqual([]);
  return kinds;
}

describe("pushing a release now", () => {
  type Pushed = { pushed_to: string[]; skipped: { node_id: string; reason: string }[] };
  const push = (version: string, body: unknown) =>
    call(`/api/admin/releases/${version}/push`, { method: "POST", headers: adminHeaders(), body: JSON.stringify(body) });
  async function updatesOf(nodeId: string) {
    const list = await (await call(`/api/admin/nodes/${nodeId}/commands`, { headers: adminHeaders() })).json<{
      items: { type: string; payload: { manifest: string } }[];
    }>();
    return list.items.filter((c) => c.type === "SOFTWARE_UPDATE").map((c) => JSON.parse(c.payload.manifest).version as string);
  }

  it("named nodes on an older version get SOFTWARE_UPDATE, once however often it is pushed", async () => {
    await publish("6.1.0");
    const [a, b] = [await enrollNode(), await enrollNode()];
    const first = await push("6.1.0", { node_ids: [a.node_id, b.node_id] });
    expect(first.status).toBe(202);
    expect((await first.json<Pushed>()).pushed_to).toEqual([a.node_id, b.node_id]);
    expect((await push("6.1.0", { node_ids: [a.node_id] })).status).toBe(202);
    expect(await updatesOf(a.node_id)).toEqual(["6.1.0"]);
    expect(await updatesOf(b.node_id)).toEqual(["6.1.0"]);
  });

  it("a node already on that version or newer is skipped; an unknown node id refuses the whole push", async () => {
    await publish("0.2.9");
    const node = await enrollNode(); // enrolled on 0.3.0
    const older = await (await push("0.2.9", { node_ids: [node.node_id] })).json<Pushed>();
    expect(older).toMatchObject({ pushed_to: [], skipped: [{ node_id: node.node_id, reason: "already_on_this_or_newer" }] });

    await publish("6.2.0");
    const unknown = crypto.randomUUID();
    const res = await push("6.2.0", { node_ids: [node.node_id, unknown] });
    expect(res.status).toBe(404);
    expect(await res.text()).toContain(unknown);
    expect(await updatesOf(node.node_id)).toEqual([]);
  });

  it("a retired (uninstalled) node is never pushed to, named or in the rollout", async () => {
    await publish("6.5.0");
    const node = await enrollNode();
    expect((await call("/api/node/retire", { method: "POST", headers: { "x-node-key": node.node_key } })).status).toBe(200);
    const named = await (await push("6.5.0", { node_ids: [node.node_id] })).json<Pushed>();
    expect(named).toMatchObject({ pushed_to: [], skipped: [{ node_id: node.node_id, reason: "retired" }] });
    const control = await enrollNode();
    await pushToRollout("6.5.0");
    expect(await updatesOf(node.node_id)).toEqual([]);
    expect(await updatesOf(control.node_id)).toEqual(["6.5.0"]);
  });

  it("a halted release is not pushed, and a malformed body is a 400 naming the field", async () => {
    await publish("6.3.0");
    const node = await enrollNode();
    await call("/api/admin/releases/6.3.0/halt", { method: "POST", headers: adminHeaders(), body: JSON.stringify({ reason: "test" }) });
    const halted = await push("6.3.0", { node_ids: [node.node_id] });
    expect(halted.status).toBe(409);
    expect((await halted.json<ErrorBody>()).error.code).toBe("release_halted");
    expect(await updatesOf(node.node_id)).toEqual([]);

    const bad = await push("6.3.0", { node_ids: ["not-a-uuid"] });
    expect(bad.status).toBe(400);
    expect((await bad.json<ErrorBody>()).error.issues[0]!.path).toBe("node_ids[0]");
    expect((await push("9.9.9", {})).status).toBe(404);
  });

  it("without node ids, every node in the rollout gets it through the Queue; the rest of the fleet does not", async () => {
    await publish("6.4.0");
    const node = await enrollNode();
    await call("/api/admin/releases/6.4.0/rollout", { method: "POST", headers: adminHeaders(), body: JSON.stringify({ percent: 0 }) });
    expect(await pushToRollout("6.4.0")).toEqual(["push_plan", "push_page"]);
    expect(await updatesOf(node.node_id)).toEqual([]);
    await call("/api/admin/releases/6.4.0/rollout", { method: "POST", headers: adminHeaders(), body: JSON.stringify({ percent: 100 }) });
    await pushToRollout("6.4.0");
    expect(await updatesOf(node.node_id)).toEqual(["6.4.0"]);
  });

  it("a large fleet fans out as one message per hundred nodes, the plan continuing itself; each node gets the update once", async () => {
    await publish("6.6.0");
    const owner = await createOwner();
    const ids = Array.from({ length: 230 }, () => crypto.randomUUID());
    const insert = env.DB.prepare(
      "INSERT INTO nodes (id, owner_id, name, key_hash, os, arch, version, created_at) VALUES (?, ?, 'Fleet PC', 'x', 'win32', 'x64', '0.3.0', ?)",
    );
    await env.DB.batch(ids.map((id, i) => insert.bind(id, owner.owner_id, Date.now() - i)));
    const sent: PushMessage[] = [];
    const queue = capturingQueue(sent as QueueMessage[]);
    let step = await runPushMessage(
      { ...env, TRIAGE_QUEUE: queue },
      { kind: "push_plan", version: "6.6.0", after: null },
      { planPages: 1 },
    );
    expect(step).toMatchObject({ stopped: null, pages: 1 });
    expect(sent.map((m) => m.kind)).toEqual(["push_page", "push_plan"]);
    const pages: PushPageMessage[] = [sent[0] as PushPageMessage];
    // Walk the rest of the plan, then run every page twice (a redelivery): nothing is sent twice.
    for (let next = sent[1]; next?.kind === "push_plan"; ) {
      sent.length = 0;
      step = await runPushMessage({ ...env, TRIAGE_QUEUE: queue }, next, { planPages: 1 });
      pages.push(...sent.filter((m): m is PushPageMessage => m.kind === "push_page"));
      next = sent.find((m) => m.kind === "push_plan");
    }
    expect(pages.every((p) => p.node_ids.length <= 100)).toBe(true);
    const paged = pages.flatMap((p) => p.node_ids);
    expect(new Set(paged).size).toBe(paged.length);
    expect(ids.every((id) => paged.includes(id))).toBe(true);
    for (const page of [...pages, ...pages]) await runPushMessage(env, page);
    for (const id of [ids[0]!, ids[150]!, ids[229]!]) expect(await updatesOf(id)).toEqual(["6.6.0"]);
  });

  it("a release halted during its fan-out stops there", async () => {
    await publish("6.7.0");
    const node = await enrollNode();
    await call("/api/admin/releases/6.7.0/halt", { method: "POST", headers: adminHeaders(), body: JSON.stringify({ reason: "bad" }) });
    const step = await runPushMessage(env, { kind: "push_page", version: "6.7.0", node_ids: [node.node_id] });
    expect(step).toMatchObject({ stopped: "release is halted", pushed: [] });
    expect(await updatesOf(node.node_id)).toEqual([]);
  });
});

describe("releases and triage", () => {
  it("publishing a release carries out decisions that were waiting for it: the node gets SOFTWARE_UPDATE once, a retired one nothing", async () => {
    // Halt everything published so far so 0.3.5 is the release that matters.
    for (const r of (
      await (await call("/api/admin/releases", { headers: adminHeaders() })).json<{ items: { version: string; status: string }[] }>()
    ).items) {
      if (r.status === "active")
        await call(`/api/admin/releases/${r.version}/halt`, {
          method: "POST",
          headers: adminHeaders(),
          body: JSON.stringify({ reason: "test" }),
        });
    }
    const node = await enrollNode();
    const first = await ingestCrash(node, EADDRINUSE_CRASH_LOOP, "0.3.0");
    const second = await ingestCrash(node, EADDRINUSE_CRASH_LOOP, "0.3.0");
    // Another node with the same crash, uninstalled before the fix came out: nothing to update there.
    const gone = await enrollNode();
    const goneCrash = await ingestCrash(gone, EADDRINUSE_CRASH_LOOP, "0.3.0");
    await deliver([first, second, goneCrash]);
    expect((await row<{ state: string }>("SELECT state FROM resolutions WHERE telemetry_id = ?", first)).state).toBe("waiting_for_release");
    expect((await call("/api/node/retire", { method: "POST", headers: { "x-node-key": gone.node_key } })).status).toBe(200);

    const published = await publish("0.3.5");
    expect(published.pushed_to_waiting_nodes).toBeGreaterThanOrEqual(2);
    const commands = await (await call(`/api/admin/nodes/${node.node_id}/commands`, { headers: adminHeaders() })).json<{
      items: { type: string; payload: { manifest: string; key_id: string } }[];
    }>();
    const updates = commands.items.filter((c) => c.type === "SOFTWARE_UPDATE");
    expect(updates).toHaveLength(1);
    expect(JSON.parse(updates[0]!.payload.manifest).version).toBe("0.3.5");
    expect(await row("SELECT action, state FROM resolutions WHERE telemetry_id = ?", first)).toEqual({
      action: "software_update",
      state: "pending",
    });
    expect((await row<{ state: string }>("SELECT state FROM resolutions WHERE telemetry_id = ?", goneCrash)).state).toBe(
      "waiting_for_release",
    );
    const goneCommands = await (await call(`/api/admin/nodes/${gone.node_id}/commands`, { headers: adminHeaders() })).json<{
      items: unknown[];
    }>();
    expect(goneCommands.items).toEqual([]);

    // A crash after the release exists is pushed at once, still as the same single command.
    await deliver([await ingestCrash(node, EADDRINUSE_CRASH_LOOP, "0.3.0")]);
    const again = await (await call(`/api/admin/nodes/${node.node_id}/commands`, { headers: adminHeaders() })).json<{
      items: { type: string }[];
    }>();
    expect(again.items.filter((c) => c.type === "SOFTWARE_UPDATE")).toHaveLength(1);
  });

  it("rollbacks past the threshold halt the release for everyone and escalate", async () => {
    await publish("5.0.0");
    const nodes = [await enrollNode(), await enrollNode(), await enrollNode()];
    for (const node of nodes) {
      const installed = await postTelemetry(
        node.node_key,
        crashReport({ type: "update_progress", entries: [], node_version: "5.0.0", details: { stage: "installed", version: "5.0.0" } }),
      );
      expect(installed.status).toBe(202);
    }
    const rolledBack = async (node: (typeof nodes)[number]) => {
      const res = await postTelemetry(
        node.node_key,
        crashReport({
          type: "update_rolled_back",
          entries: ["[t] UNCAUGHT: Error: Cannot find module './missing.js'", "[t] EXIT code=1 signal=null after 0.2 s"],
          node_version: "0.3.5",
          details: { version: "5.0.0", rolled_back_to: "0.3.5" },
        }),
      );
      expect(res.status).toBe(202);
      return (await res.json<{ id: string; severity: string }>()).id;
    };
    // Only the count rule here (1 of 3 installs would already pass the default 5 % rule).
    const countOnly = { ROLLBACK_HALT_PERCENT: "100" };
    await deliver([await rolledBack(nodes[0]!)], countOnly);
    expect(await row("SELECT status, rollbacks, installs FROM releases WHERE version = '5.0.0'")).toEqual({
      status: "active",
      rollbacks: 1,
      installs: 3,
    });
    const id = await rolledBack(nodes[1]!);
    await deliver([id], countOnly);
    const release = await row<{ status: string; halted_reason: string }>(
      "SELECT status, halted_reason FROM releases WHERE version = '5.0.0'",
    );
    expect(release.status).toBe("halted");
    expect(release.halted_reason).toContain("2 rollback(s)");
    expect(await count("SELECT count(*) AS n FROM escalations WHERE telemetry_id = ? AND reason = 'release_halted'", id)).toBe(1);
    const offer = await (await call("/api/node/versions", { headers: { "x-node-key": nodes[2]!.node_key } })).json<{
      latest: { version: string } | null;
    }>();
    expect(offer.latest?.version).not.toBe("5.0.0");
  });

  it("with few installs, one rollback is already over the percentage and halts the release", async () => {
    await publish("6.0.0");
    const node = await enrollNode();
    await postTelemetry(
      node.node_key,
      crashReport({ type: "update_progress", entries: [], details: { stage: "installed", version: "6.0.0" } }),
    );
    const res = await postTelemetry(
      node.node_key,
      crashReport({
        type: "update_rolled_back",
        entries: ["[t] UNCAUGHT: Error: boom"],
        details: { version: "6.0.0", rolled_back_to: "0.3.5" },
      }),
    );
    await deliver([(await res.json<{ id: string }>()).id]);
    expect((await row<{ status: string }>("SELECT status FROM releases WHERE version = '6.0.0'")).status).toBe("halted");
  });
});
