/**
 * A queue batch is triaged together (reads and writes batched in D1) with each report's outcome
 * exactly as if it had been triaged alone, in message order; and the known issues kept between
 * batches never outlive an edit: a changed, added or disabled issue applies from the next batch.
 */
import { describe, expect, it, vi } from "vitest";
import { EADDRINUSE_CRASH_LOOP, ENOENT_CRASH, TYPE_ERROR_CRASH } from "../fixtures/crashes.ts";
import { adminHeaders, adminPost, call, createOwner, enrollNode } from "./helpers.ts";
import { count, deliver, ingestCrash, row } from "./triage-helpers.ts";

const EADDRINUSE_ISSUE = "5f1f0a8e-6a39-4c38-9a53-6c1c7d1e0001";

const groupOf = async (telemetryId: string) =>
  (await row<{ group_id: string }>("SELECT group_id FROM resolutions WHERE telemetry_id = ?", telemetryId)).group_id;

describe("a queue batch of many reports of several groups", () => {
  it("counts, tickets, escalations and known-issue hits come out as if each report were triaged alone, in order", async () => {
    const owner = await createOwner();
    const a = await enrollNode(owner);
    const b = await enrollNode(owner);
    const typeError = () => ingestCrash(a, TYPE_ERROR_CRASH);
    const enoent = (node = a, version = "0.3.0") => ingestCrash(node, ENOENT_CRASH, version);
    const portConflict = () => ingestCrash(b, EADDRINUSE_CRASH_LOOP, "0.3.0");
    const ids = [
      await typeError(),
      await enoent(),
      await portConflict(),
      await typeError(),
      await enoent(b, "0.2.9"),
      await portConflict(),
      await typeError(),
      await portConflict(),
      await typeError(),
      await enoent(),
    ];
    // The first message delivered twice in the same batch counts once.
    const warn = vi.spyOn(console, "warn");
    const result = await deliver([...ids, ids[0]!]);
    // Written as one batch, not by the one-by-one fallback (which gives the same outcomes, slower).
    expect(warn.mock.calls.filter(([line]) => String(line).includes("triage batch write failed"))).toEqual([]);
    warn.mockRestore();
    expect(result.retried).toEqual([]);
    expect(result.acked.sort()).toEqual([...result.ids].sort());

    const [typeErrorGroup, enoentGroup, portGroup] = [await groupOf(ids[0]!), await groupOf(ids[1]!), await groupOf(ids[2]!)];
    expect(new Set([typeErrorGroup, enoentGroup, portGroup]).size).toBe(3);
    for (const [i, group] of [typeErrorGroup, enoentGroup, portGroup, typeErrorGroup, enoentGroup, portGroup].entries()) {
      expect(await groupOf(ids[i]!)).toBe(group);
    }

    // An unknown crash, four times: one group, one ticket, one escalation (flood control within the batch).
    expect(
      await row("SELECT report_count, node_count, state, reports_at_last_escalation FROM crash_groups WHERE id = ?", typeErrorGroup),
    ).toEqual({ report_count: 4, node_count: 1, state: "ticketed", reports_at_last_escalation: 1 });
    expect(await row("SELECT count(*) AS n, sum(report_count) AS reports FROM tickets WHERE group_id = ?", typeErrorGroup)).toEqual({
      n: 1,
      reports: 4,
    });
    expect(await row("SELECT count(*) AS n, max(reports_since_last) AS since FROM escalations WHERE group_id = ?", typeErrorGroup)).toEqual(
      {
        n: 1,
        since: 1,
      },
    );

    // Another unknown crash from two nodes on two versions.
    expect(await row("SELECT report_count, node_count, versions FROM crash_groups WHERE id = ?", enoentGroup)).toEqual({
      report_count: 3,
      node_count: 2,
      versions: '["0.3.0","0.2.9"]',
    });
    expect(await count("SELECT report_count AS n FROM tickets WHERE group_id = ?", enoentGroup)).toBe(3);
    expect(await count("SELECT count(*) AS n FROM escalations WHERE group_id = ?", enoentGroup)).toBe(1);

    // The seeded known issue, three times: waiting for its release, escalated once, no ticket, three hits.
    expect(await row("SELECT report_count, known_issue_id, state FROM crash_groups WHERE id = ?", portGroup)).toEqual({
      report_count: 3,
      known_issue_id: EADDRINUSE_ISSUE,
      state: "waiting_for_release",
    });
    expect(await count("SELECT count(*) AS n FROM resolutions WHERE group_id = ? AND action = 'waiting_for_release'", portGroup)).toBe(3);
    expect(await count("SELECT count(*) AS n FROM escalations WHERE group_id = ? AND reason = 'waiting_for_release'", portGroup)).toBe(1);
    expect(await count("SELECT count(*) AS n FROM tickets WHERE group_id = ?", portGroup)).toBe(0);
    expect(await count("SELECT hit_count AS n FROM node_known_issues WHERE id = ?", EADDRINUSE_ISSUE)).toBe(3);

    // One receipt, resolution and bridge message per report.
    const perReport = (table: string) =>
      count(`SELECT count(*) AS n FROM ${table} WHERE telemetry_id IN (SELECT value FROM json_each(?))`, JSON.stringify(ids));
    expect([await perReport("triage_receipts"), await perReport("resolutions"), await perReport("bridge_comms")]).toEqual([10, 10, 10]);

    // The whole batch again (a redelivery) changes nothing.
    const again = await deliver(ids, {}, 2);
    expect(again.acked.sort()).toEqual([...again.ids].sort());
    expect(
      await count("SELECT sum(report_count) AS n FROM crash_groups WHERE id IN (?, ?, ?)", typeErrorGroup, enoentGroup, portGroup),
    ).toBe(10);
    expect(await perReport("resolutions")).toBe(10);
  });
});

describe("known issues kept between batches", () => {
  const crash = (word: string) => [`[t] UNCAUGHT: Error: gizmo ${word} exploded`, "    at spin (~/app/gizmo.js:1:1)", "EXIT code=1"];
  const outcome = async (telemetryId: string) =>
    row<{ known_issue_id: string | null; action: string }>(
      "SELECT known_issue_id, action FROM resolutions WHERE telemetry_id = ?",
      telemetryId,
    );

  it("an edited, added or disabled known issue applies from the next batch", async () => {
    const node = await enrollNode();
    const created = await adminPost("/api/admin/known-issues", { pattern: "gizmo alpha exploded", fix_type: "self_healing" });
    expect(created.status).toBe(201);
    const issue = await created.json<{ id: string }>();

    const first = await ingestCrash(node, crash("alpha"));
    await deliver([first]);
    expect(await outcome(first)).toEqual({ known_issue_id: issue.id, action: "self_healing" });

    // Edited: the old text no longer matches, the new one does.
    const edited = await call(`/api/admin/known-issues/${issue.id}`, {
      method: "PATCH",
      headers: adminHeaders(),
      body: JSON.stringify({ pattern: "gizmo beta exploded" }),
    });
    expect(edited.status).toBe(200);
    const [alpha, beta] = [await ingestCrash(node, crash("alpha")), await ingestCrash(node, crash("beta"))];
    await deliver([alpha, beta]);
    expect(await outcome(alpha)).toEqual({ known_issue_id: null, action: "ticket" });
    expect(await outcome(beta)).toEqual({ known_issue_id: issue.id, action: "self_healing" });

    // Added: a new issue for the alpha crash.
    const added = await (await adminPost("/api/admin/known-issues", { pattern: "gizmo alpha", fix_type: "self_healing" })).json<{
      id: string;
    }>();
    const alphaAgain = await ingestCrash(node, crash("alpha"));
    await deliver([alphaAgain]);
    expect(await outcome(alphaAgain)).toEqual({ known_issue_id: added.id, action: "self_healing" });

    // Disabled: the beta crash is unknown again.
    const disabled = await call(`/api/admin/known-issues/${issue.id}/disable`, { method: "POST", headers: adminHeaders() });
    expect(disabled.status).toBe(200);
    const betaAgain = await ingestCrash(node, crash("beta"));
    await deliver([betaAgain]);
    expect(await outcome(betaAgain)).toEqual({ known_issue_id: null, action: "ticket" });
  });
});
