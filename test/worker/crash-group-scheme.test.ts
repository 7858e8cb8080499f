/**
 * Groups stored before the fingerprint scheme changed (buhdi-crash-v1 kept Node's own frames in
 * the key and read wild crash text wrongly): the next report of the same crash joins the old
 * group, which takes the new key, instead of opening a second group and a second ticket.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { toHex } from "../../worker/crypto.ts";
import { fingerprint } from "../../worker/triage/fingerprint.ts";
import { TYPE_ERROR_CRASH } from "../fixtures/crashes.ts";
import { enrollNode } from "./helpers.ts";
import { count, deliver, ingestCrash, row } from "./triage-helpers.ts";

/** The key v1 computed for TYPE_ERROR_CRASH: type, message and the top frames, Node's timers included. */
const V1_KEY = [
  "buhdi-crash-v1",
  "TypeError",
  "Cannot read properties of undefined (reading 'host')",
  [
    "relayAddress (type-error.ts)",
    "Timeout.connectRelay [as _onTimeout] (type-error.ts)",
    "listOnTimeout (node:internal/timers)",
    "process.processTimers (node:internal/timers)",
  ],
];

async function sha256(text: string): Promise<string> {
  return toHex(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

describe("crash groups made under the first fingerprint scheme", () => {
  it("the legacy fingerprint of an agent record is the one v1 stored", async () => {
    const print = await fingerprint(TYPE_ERROR_CRASH);
    expect(print.legacyFingerprint).toBe(await sha256(JSON.stringify(V1_KEY)));
    expect(print.fingerprint).not.toBe(print.legacyFingerprint);
    expect((await fingerprint(["events.js:183", "Error: listen EADDRINUSE :::4000"])).legacyFingerprint).toBeNull();
  });

  it("are adopted by the next report of the same crash: same group, new key and title, still one ticket", async () => {
    const legacy = await sha256(JSON.stringify(V1_KEY));
    const groupId = crypto.randomUUID();
    const now = Date.now() - 60_000;
    await env.DB.batch([
      env.DB.prepare(
        `INSERT INTO crash_groups (id, fingerprint, title, first_seen_at, last_seen_at, report_count, node_count, versions, state, created_at)
         VALUES (?, ?, 'old title', ?, ?, 1, 1, '["0.3.0"]', 'ticketed', ?)`,
      ).bind(groupId, legacy, now, now, now),
      env.DB.prepare(
        "INSERT INTO tickets (id, group_id, title, status, report_count, created_at, updated_at) VALUES (?, ?, 'old title', 'open', 1, ?, ?)",
      ).bind(crypto.randomUUID(), groupId, now, now),
    ]);

    const node = await enrollNode();
    const id = await ingestCrash(node, TYPE_ERROR_CRASH, "0.3.0");
    await deliver([id]);

    expect((await row<{ group_id: string }>("SELECT group_id FROM resolutions WHERE telemetry_id = ?", id)).group_id).toBe(groupId);
    const print = await fingerprint(TYPE_ERROR_CRASH);
    expect(await row("SELECT fingerprint, title, report_count FROM crash_groups WHERE id = ?", groupId)).toEqual({
      fingerprint: print.fingerprint,
      title: "TypeError: Cannot read properties of undefined (reading 'host')",
      report_count: 2,
    });
    expect(await count("SELECT count(*) AS n FROM crash_groups")).toBe(1);
    expect(await count("SELECT count(*) AS n FROM tickets")).toBe(1);
    expect(await count("SELECT report_count AS n FROM tickets WHERE group_id = ?", groupId)).toBe(2);

    // The report after that finds the group under its new key.
    await deliver([await ingestCrash(node, TYPE_ERROR_CRASH, "0.3.0")]);
    expect(await count("SELECT report_count AS n FROM crash_groups WHERE id = ?", groupId)).toBe(3);
  });
});
