/**
 * The whole mission as one test: `npm run demo`'s scenario (scripts/demo/scenario.ts) with
 * shorter windows, then every step checked again from the outside, independently of the
 * demo's own checks: through the edge's HTTP API, the webhook receiver, the emails the edge
 * handed its send_email binding, and the agent's files.
 */
import { existsSync } from "node:fs";
import { readdir, rm } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminClient, type AdminClient } from "../../scripts/demo/admin-client.ts";
import { agentFiles } from "../../scripts/demo/node-process.ts";
import { DEMO_EMAIL, DEMO_SETTINGS, runDemo, type DemoRun } from "../../scripts/demo/scenario.ts";
import { freePort } from "../../scripts/local-edge.ts";

const SETTINGS = { ...DEMO_SETTINGS, verifyHealthySeconds: 5, updateHealthyMs: 5_000, crashLoopWindowMs: 3_000, stableRunMs: 3_000 };

describe("Nana's laptop, zero-touch (the demo's scenario)", () => {
  let run: DemoRun;
  let admin: AdminClient;
  const narration: string[] = [];

  beforeAll(async () => {
    run = await runDemo({ ...SETTINGS, nodePort: await freePort() }, (line) => narration.push(line));
    admin = adminClient(run.world.edgeUrl, run.world.adminToken);
  }, 600_000);
  afterAll(async () => {
    await run?.stop();
    // The emails' HTML stays after the demo for a person to open; after a test nobody will.
    if (run?.ok) await rm(run.dir, { recursive: true, force: true });
  });

  it("every step of the scenario happened", () => {
    const failed = run.steps.filter((s) => s.status !== "ok");
    expect(failed, narration.join("\n")).toEqual([]);
    expect(run.steps.map((s) => s.n)).toEqual([1, 2, 3, 4, 5]);
  });

  it("the EADDRINUSE crash reached the cloud from 0.3.0 and is resolved, verified on 0.3.1", async () => {
    const telemetry = await admin.telemetry(run.world.nodeId);
    const crashes = telemetry.filter((t) => t.type === "crash_report" && t.payload.entries?.some((l) => l.includes("EADDRINUSE")));
    expect(crashes.length).toBeGreaterThan(0);
    expect(crashes.every((t) => t.node_version === "0.3.0" && t.severity === "critical" && t.resolved)).toBe(true);
    const resolutions = await admin.resolutions(run.world.nodeId);
    expect(resolutions.filter((r) => r.action === "software_update")).not.toEqual([]);
    expect(
      resolutions.filter((r) => r.action === "software_update").every((r) => r.fix_version === "0.3.1" && r.state === "verified"),
    ).toBe(true);
    expect(telemetry).toContainEqual(
      expect.objectContaining({
        type: "update_progress",
        payload: expect.objectContaining({ details: expect.objectContaining({ stage: "healthy", version: "0.3.1" }) }),
      }),
    );
    expect(run.timeToRemediationS).toBeGreaterThanOrEqual(SETTINGS.verifyHealthySeconds);
  });

  it("each update was one SOFTWARE_UPDATE, acknowledged done by the node", async () => {
    const updates = (await admin.commands(run.world.nodeId)).filter((c) => c.type === "SOFTWARE_UPDATE");
    const versions = updates.map((c) => (JSON.parse(c.payload.manifest!) as { version: string }).version);
    expect(versions.sort()).toEqual(["0.3.1", "0.3.2"]);
    expect(updates.every((c) => c.ack?.status === "done")).toBe(true);
  });

  it("0.3.2 was rolled back on the node, reported, and halted for everyone; the node runs 0.3.1", async () => {
    const files = await agentFiles(run.world.home);
    expect(files.current).toBe("0.3.1");
    expect(files.rolledBack).toEqual(["0.3.2"]);
    expect(existsSync(path.join(run.world.home, "versions", "0.3.1", "buhdi-node.mjs"))).toBe(true);
    const telemetry = await admin.telemetry(run.world.nodeId);
    expect(telemetry).toContainEqual(
      expect.objectContaining({
        type: "update_rolled_back",
        payload: expect.objectContaining({ details: { stage: "rolled_back", version: "0.3.2", rolled_back_to: "0.3.1" } }),
      }),
    );
    const releases = await admin.releases();
    expect(releases.find((r) => r.version === "0.3.2")).toMatchObject({ status: "halted", rollbacks: 1 });
    expect(releases.find((r) => r.version === "0.3.1")).toMatchObject({ status: "active" });
    expect(await admin.node(run.world.nodeId)).toMatchObject({ status: "online", version: "0.3.1" });
  });

  it("the unknown crash is one ticket, one bridge_comms message per report and one signed escalation", async () => {
    const groupId = run.world.unknownGroupId;
    expect(groupId).not.toBeNull();
    const tickets = (await admin.tickets()).filter((t) => t.crash_group_id === groupId);
    expect(tickets).toHaveLength(1);
    expect(tickets[0]!.report_count).toBe(SETTINGS.unknownCrashes);
    const reports = (await admin.resolutions(run.world.nodeId)).filter((r) => r.crash_group_id === groupId).map((r) => r.telemetry_id);
    expect(reports).toHaveLength(SETTINGS.unknownCrashes);
    const messages = (await admin.bridge()).filter((m) => reports.includes(m.telemetry_id));
    expect(messages).toHaveLength(SETTINGS.unknownCrashes);
    expect(
      messages.every((m) => m.text.startsWith('FROM: Telemetry System\nCLASS: node_issue\nMSG: Node "Kitchen Laptop" (user: Nana)')),
    ).toBe(true);
    const escalations = run.world.deliveries.filter((d) => d.body?.crash_group.id === groupId);
    expect(escalations).toHaveLength(1);
    expect(escalations[0]).toMatchObject({ verified: true, body: { reason: "unknown_crash" } });
  });

  it("Nana got one invitation email, whose setup link carried the code that enrolled her laptop", async () => {
    const invitations = run.world.emails.filter((e) => e.subject.startsWith("Set up Buhdi"));
    expect(invitations).toHaveLength(1);
    const [invitation] = invitations;
    expect(invitation!.from).toContain(DEMO_EMAIL.from);
    expect(invitation!.text).toContain("Click here to set up Buhdi");
    expect(invitation!.text).toMatch(new RegExp(`${run.world.edgeUrl}/setup/[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}`));
    expect(invitation!.text).toContain(`${run.world.edgeUrl}/auth/link/`);
    const emails = (await admin.call<{ items: { kind: string; status: string }[] }>("/api/support/emails?limit=200")).items;
    expect(emails.filter((e) => e.kind === "invitation")).toEqual([expect.objectContaining({ status: "sent" })]);
  });

  it("the escalation went by email to IT Support once too, linking the crash group", () => {
    const groupId = run.world.unknownGroupId;
    const escalations = run.world.emails.filter((e) => e.subject.startsWith("Buhdi escalation") && e.text.includes(String(groupId)));
    expect(escalations).toHaveLength(1);
    expect(escalations[0]!.to).toContain(DEMO_EMAIL.escalationTo);
    expect(escalations[0]!.text).toContain(`${run.world.edgeUrl}/support/crash-groups?group=${groupId}`);
    // The first report escalated; the next ones fell in its period (flood control).
    expect(escalations[0]!.text).toContain("How often:  1 report so far");
  });

  // Last, because it stops the run (stop() is done once; afterAll's call then does nothing).
  it("stopping a run that went well leaves only the emails' HTML, and no edge state", async () => {
    expect(run.ok).toBe(true);
    await run.stop();
    expect(await readdir(run.dir)).toEqual(["emails"]);
    expect((await readdir(path.join(run.dir, "emails"))).every((name) => name.endsWith(".html"))).toBe(true);
    expect(existsSync(run.world.edgeStateDir)).toBe(false);
  });
});
