/**
 * The dashboards in a real browser (Debian's chromium) against a real local edge and real
 * agents: signing in by link, Nana's computer going offline and back without a reload, a crash
 * she is told about, another owner's computer out of her reach, IT Support's actions, and what
 * an attacker's node name, crash lines or cross-site form can and cannot do.
 */
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createRequire } from "node:module";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newReleaseKey, type ReleaseKey, trustedKeysVar } from "../../scripts/release-key.ts";
import type { LocalEmail } from "../../scripts/local-email.ts";
import { release } from "../../scripts/release.ts";
import { startEdge, type Edge } from "../support/edge.ts";
import { eventually, FAST_EDGE_VARS, liveNodes } from "../support/live-node.ts";
import { type Browser, launchBrowser, waitForText, type WatchedPage } from "./browser.ts";

let edge: Edge;
let releaseKey: ReleaseKey;
/** What the edge handed its local send_email binding. */
const emails: LocalEmail[] = [];
const nodes = liveNodes();
const browsers: Browser[] = [];
const servers: Server[] = [];

beforeAll(async () => {
  releaseKey = newReleaseKey();
  edge = await startEdge({
    vars: { ...FAST_EDGE_VARS, RELEASE_PUBLIC_KEYS: trustedKeysVar([releaseKey]), EMAIL_FROM: "it-support@buhdi.test" },
    onEmail: (email) => emails.push(email),
  });
});
afterAll(async () => {
  await Promise.all(browsers.splice(0).map((b) => b.close()));
  await nodes.stopAll();
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  await edge?.stop();
});

async function browser(testName: string): Promise<WatchedPage> {
  const b = await launchBrowser(testName);
  browsers.push(b);
  return b.newPage();
}

async function ownerOf(nodeId: string): Promise<string> {
  const view = await edge.admin(`/api/nodes/${nodeId}`);
  return (view.body as { owner_id: string }).owner_id;
}

async function signInLink(ownerId: string): Promise<string> {
  const res = await fetch(`${edge.url}/api/admin/owners/${ownerId}/sign-in-link`, {
    method: "POST",
    headers: { authorization: `Bearer ${edge.adminToken}` },
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { url: string }).url;
}

/** An owner and an enrolled node named `name`, through the API (no agent process). */
async function ownerWithNode(ownerName: string, name: string): Promise<{ ownerId: string; nodeId: string; nodeKey: string }> {
  const owner = await edge.admin("/api/admin/owners", { email: `${crypto.randomUUID()}@example.com`, name: ownerName });
  const ownerId = (owner.body as { owner_id: string }).owner_id;
  const code = await edge.admin("/api/admin/enrollments", { owner_id: ownerId, node_name: name });
  const res = await fetch(`${edge.url}/api/enroll`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ code: (code.body as { code: string }).code, os: "linux", arch: "x64", version: "0.3.0" }),
  });
  const body = (await res.json()) as { node_id: string; node_key: string };
  return { ownerId, nodeId: body.node_id, nodeKey: body.node_key };
}

async function postCrash(nodeKey: string, entries: string[]): Promise<void> {
  const res = await fetch(`${edge.url}/api/node/telemetry`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-node-key": nodeKey },
    body: JSON.stringify({
      event_id: crypto.randomUUID(),
      type: "crash_report",
      entries,
      node_version: "0.3.0",
      os: "linux",
      arch: "x64",
      uptime_before_crash: 12,
      timestamp: new Date().toISOString(),
    }),
  });
  expect(res.status).toBe(202);
}

async function signInAsNana(watched: WatchedPage, link: string): Promise<void> {
  const { page } = watched;
  await page.goto(link);
  await page.getByRole("button", { name: "Sign in" }).waitFor({ timeout: 10_000 });
  await watched.shot("sign-in-link");
  await Promise.all([page.waitForURL(`${edge.url}/home`, { timeout: 15_000 }), page.getByRole("button", { name: "Sign in" }).click()]);
}

async function signInAsSupport(watched: WatchedPage): Promise<void> {
  const { page } = watched;
  await page.goto(`${edge.url}/auth/support`);
  await watched.shot("support-sign-in");
  await page.getByLabel("Admin token").fill(edge.adminToken);
  await Promise.all([page.waitForURL(/\/support(\?|$)/, { timeout: 15_000 }), page.getByRole("button", { name: "Sign in" }).click()]);
}

async function axeViolations(page: WatchedPage["page"]): Promise<Array<{ id: string; impact: string | null; help: string }>> {
  // Evaluated through the DevTools protocol, which the page's CSP does not govern: the page itself
  // still allows no inline script.
  const source = await readFile(path.join(path.dirname(createRequire(import.meta.url).resolve("axe-core")), "axe.min.js"), "utf8");
  await page.evaluate(`${source}\n;void 0`);
  return page.evaluate(async () => {
    const axe = (
      window as unknown as {
        axe: { run(context: Document): Promise<{ violations: Array<{ id: string; impact: string | null; help: string }> }> };
      }
    ).axe;
    const result = await axe.run(document);
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help }));
  });
}

describe("Nana's dashboard", () => {
  it("signs her in by link and shows her computer go from Working normally to Offline and back, without a reload", async () => {
    const { home, nodeId } = await edge.enrolledHome();
    const link = await signInLink(await ownerOf(nodeId));
    const node = await nodes.start(home);
    await eventually(
      () => edge.nodeView(nodeId),
      (v) => v.status === "online",
      30_000,
      "the node online",
    );

    const nana = await browser("nana-offline-and-back");
    await signInAsNana(nana, link);
    const card = '.card[data-node-name="Kitchen Laptop"] [data-testid="status"]';
    await waitForText(nana.page, card, "Working normally");
    await nana.shot("working-normally");
    const serious = (await axeViolations(nana.page)).filter((v) => v.impact === "serious" || v.impact === "critical");
    expect(serious, JSON.stringify(serious)).toEqual([]);
    // A marker that a reload would wipe: the changes below must arrive in place.
    await nana.page.evaluate(() => ((window as unknown as { marker: number }).marker = 42));

    await node.killHard();
    await waitForText(nana.page, card, /^Offline since \d{1,2}:\d{2}/, 40_000);
    await nana.shot("offline");

    const again = await nodes.start(home);
    await waitForText(nana.page, card, "Working normally", 40_000);
    await nana.shot("back");
    expect(await nana.page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(42);
    expect(nana.errors, "console errors").toEqual([]);
    again.supervisor.kill("SIGTERM");
    await again.exited;
  });

  it("shows a crash as a problem in plain words, with no crash lines or ids", async () => {
    const nanaNode = await ownerWithNode("Nana", "Study PC");
    const link = await signInLink(nanaNode.ownerId);
    const line = "UNCAUGHT: Error: something unheard of 0xdeadbeef";
    await postCrash(nanaNode.nodeKey, [line, "    at secret (/home/nana/app.js:1:1)", "EXIT code=1"]);
    const nana = await browser("nana-crash");
    await signInAsNana(nana, link);
    const problem = '.card[data-node-name="Study PC"] [data-testid="problem"]';
    // An unknown crash becomes a ticket: "We're looking into a problem" once triage has run.
    await waitForText(nana.page, problem, /We're looking into a problem|Had a problem at/, 40_000);
    await waitForText(nana.page, problem, "We're looking into a problem", 40_000);
    await nana.shot("problem");
    const text = (await nana.page.locator("main").textContent()) ?? "";
    expect(text).not.toContain("0xdeadbeef");
    expect(text).not.toContain("app.js");
    expect(text).not.toContain(nanaNode.nodeId);
  });

  it("says clearly that a used link does not work", async () => {
    const { ownerId } = await ownerWithNode("Nana", "Old Laptop");
    const link = await signInLink(ownerId);
    const first = await browser("used-link");
    await signInAsNana(first, link);
    const again = await browsers.at(-1)!.newPage();
    const response = await again.page.goto(link);
    expect(response?.status()).toBe(410);
    await waitForText(again.page, "main", "This sign-in link has already been used.");
    await again.shot("used-link");
  });

  it("keeps another owner's computer out of her reach: the same 404 as a computer that does not exist", async () => {
    const nanaNode = await ownerWithNode("Nana", "Tablet");
    const other = await ownerWithNode("Someone else", "Their Laptop");
    const nana = await browser("another-owner");
    await signInAsNana(nana, await signInLink(nanaNode.ownerId));
    await waitForText(nana.page, "main", "Tablet");
    expect(await nana.page.locator("main").textContent()).not.toContain("Their Laptop");
    const foreign = await nana.page.goto(`${edge.url}/api/nodes/${other.nodeId}`);
    expect(foreign?.status()).toBe(404);
    await nana.shot("foreign-node");
    const missing = await nana.page.goto(`${edge.url}/api/nodes/${crypto.randomUUID()}`);
    expect(missing?.status()).toBe(404);
    const support = await nana.page.goto(`${edge.url}/support`);
    expect(support?.status()).toBe(403);
    await nana.shot("support-refused");
  });
});

describe("IT Support's dashboard", () => {
  it("acknowledges a bridge message from the page", async () => {
    const { nodeKey } = await ownerWithNode("Bridge Owner", "Bridge PC");
    await postCrash(nodeKey, ["UNCAUGHT: Error: bridge test crash", "EXIT code=1"]);
    await eventually(
      () => edge.admin("/api/support/bridge?status=pending"),
      (r) => JSON.stringify(r.body).includes("bridge test crash"),
      40_000,
      "a pending bridge message for the crash",
    );
    const support = await browser("bridge-ack");
    await signInAsSupport(support);
    await support.page.goto(`${edge.url}/support/bridge?status=pending`);
    const item = support.page.locator("li", { hasText: "bridge test crash" }).first();
    await item.waitFor({ timeout: 10_000 });
    await support.shot("bridge-pending");
    await Promise.all([support.page.waitForLoadState("load"), item.getByRole("button", { name: "Acknowledge" }).click()]);
    await eventually(
      () => edge.admin("/api/support/bridge?status=acked"),
      (r) => JSON.stringify(r.body).includes("bridge test crash"),
      10_000,
      "the message acknowledged",
    );
    await support.page.goto(`${edge.url}/support/bridge?status=acked`);
    await waitForText(support.page, "main", "bridge test crash");
    await support.shot("bridge-acked");
  });

  it("dry-runs a known issue's pattern against the stored crash groups", async () => {
    const support = await browser("known-issue-dry-run");
    await signInAsSupport(support);
    await support.page.goto(`${edge.url}/support/known-issues`);
    const row = support.page.locator("tr", { hasText: "EADDRINUSE" }).first();
    await row.getByRole("button", { name: "Dry run" }).click();
    await waitForText(support.page, "main", /Matches \d+ of \d+ recent crash groups/, 15_000);
    await support.shot("dry-run");
  });

  it("refuses a pattern the linear-time engine cannot run, and the page shows why", async () => {
    const support = await browser("known-issue-refused");
    await signInAsSupport(support);
    await support.page.goto(`${edge.url}/support/known-issues`);
    await support.page.getByLabel("Pattern (regular expression)").fill("(a)\\1");
    await support.page.getByRole("button", { name: "Create (enabled)" }).click();
    await waitForText(support.page, 'form[data-api-path="/api/admin/known-issues"] output', /^Refused \(400\): /, 15_000);
    await support.shot("refused-pattern");
  });

  it("halts and resumes a release from the page", async () => {
    // A beta release of a stand-in bundle: the stable agents in the other tests are never offered it.
    const dir = await mkdtemp(path.join(tmpdir(), "buhdi-release-"));
    const bundle = path.join(dir, "buhdi-node.mjs");
    await writeFile(bundle, `// a stand-in bundle\nconsole.log("buhdi-node 0.9.0");\n`);
    await release({
      version: "0.9.0",
      channel: "beta",
      key: releaseKey,
      server: edge.url,
      adminToken: edge.adminToken,
      remote: false,
      persistDir: edge.persistDir,
      expiresInDays: 30,
      bundle,
    });
    const support = await browser("release-halt-resume");
    await signInAsSupport(support);
    await support.page.goto(`${edge.url}/support/releases`);
    const state = 'tr[data-release="0.9.0"] [data-testid="release-state"]';
    await waitForText(support.page, state, "active");
    await support.shot("active");
    await support.page.locator('tr[data-release="0.9.0"]').getByRole("button", { name: "Halt" }).click();
    await waitForText(support.page, state, "halted: halted from the dashboard", 15_000);
    await support.shot("halted");
    const listed = await edge.admin("/api/admin/releases");
    expect(listed.body).toMatchObject({
      items: [expect.objectContaining({ version: "0.9.0", status: "halted", halted_reason: "halted from the dashboard" })],
    });
    await support.page.locator('tr[data-release="0.9.0"]').getByRole("button", { name: "Resume" }).click();
    await waitForText(support.page, state, /^active$/, 15_000);
    await support.shot("resumed");
  });

  it("invites an owner by email: the form says so, and the invitation with the setup link goes to the address given", async () => {
    const support = await browser("invitation-email");
    await signInAsSupport(support);
    await support.page.goto(`${edge.url}/support/invitations`);
    const address = `ada-${crypto.randomUUID()}@example.com`;
    await support.page.getByLabel("Owner's name").fill("Aunt Ada");
    await support.page.getByLabel("Owner's email").fill(address);
    await support.page.getByLabel("Computer's name").fill("Sewing Room PC");
    expect(await support.page.getByLabel("Email the invitation to the owner").isChecked()).toBe(true);
    await support.page.getByRole("button", { name: "Invite" }).click();
    await waitForText(support.page, "output.invite-result", `is on its way to ${address}`, 15_000);
    await support.shot("invited-by-email");
    const [invitation] = await eventually(
      () => emails.filter((e) => e.to.includes(address)),
      (found) => found.length >= 1,
      30_000,
      "the invitation in the local send_email binding's log",
      250,
    );
    expect(invitation!.text).toMatch(/Hello Aunt Ada,[\s\S]*\/setup\/[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}/);
    expect(invitation!.subject).toBe('Set up Buhdi on your computer "Sewing Room PC"');
  });

  it("invites an owner: enrollment code and a sign-in link that signs the new owner in", async () => {
    const support = await browser("invitation");
    await signInAsSupport(support);
    await support.page.goto(`${edge.url}/support/invitations`);
    await support.page.getByLabel("Owner's name").fill("Grandpa Joe");
    await support.page.getByLabel("Owner's email").fill(`joe-${crypto.randomUUID()}@example.com`);
    await support.page.getByLabel("Computer's name").fill("Den PC");
    // Not emailed: the code and a sign-in link are shown to pass on.
    await support.page.getByLabel("Email the invitation to the owner").uncheck();
    await support.page.getByRole("button", { name: "Invite" }).click();
    await waitForText(support.page, "output.invite-result", /Sign-in link \(15 minutes, once\): http/, 15_000);
    await support.shot("invited");
    const text = (await support.page.locator("output.invite-result").textContent()) ?? "";
    expect(text).toMatch(/Enrollment code for "Den PC": [0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}/);
    const link = /(http:\/\/\S+\/auth\/link\/\S+)$/.exec(text)?.[1];
    expect(link).toBeDefined();
    const joe = await browser("invitation-owner");
    await signInAsNana(joe, link!);
    await waitForText(joe.page, "main", "Hello Grandpa Joe");
    await joe.shot("new-owner-home");
  });

  it("shows the fleet with a status change within 10 s, without a reload", async () => {
    const { home, nodeId } = await edge.enrolledHome();
    const node = await nodes.start(home);
    await eventually(
      () => edge.nodeView(nodeId),
      (v) => v.status === "online",
      30_000,
      "the node online",
    );
    const support = await browser("fleet-live");
    await signInAsSupport(support);
    const status = `tr[data-node-id="${nodeId}"] [data-testid="status"]`;
    await support.page.goto(`${edge.url}/support?q=Kitchen&sort=last_seen&dir=desc`);
    await waitForText(support.page, status, "online");
    await support.shot("fleet-online");
    await node.killHard();
    const went = await eventually(
      () => edge.nodeView(nodeId),
      (v) => v.status === "offline",
      30_000,
      "the edge to see the node offline",
    );
    expect(went.status).toBe("offline");
    const seenAt = Date.now();
    await waitForText(support.page, status, "offline", 10_000);
    expect(Date.now() - seenAt).toBeLessThanOrEqual(10_000);
    await support.shot("fleet-offline");
    await Promise.all([
      support.page.waitForURL(`${edge.url}/support/nodes/${nodeId}`),
      support.page.locator(`tr[data-node-id="${nodeId}"] a`).click(),
    ]);
    await waitForText(support.page, '[data-testid="status"]', "offline");
    expect(await support.page.locator('svg[role="img"][aria-label^="Memory: "]').getAttribute("aria-label")).toMatch(
      /^Memory: [1-9]\d* samples over 24 h/,
    );
    await support.shot("node-detail");
  });
});

describe("what an attacker can't do", () => {
  it("a node named <img src=x onerror=alert(1)> with script in its crash lines runs no script on either dashboard", async () => {
    const evil = "<img src=x onerror=alert(1)>";
    const owned = await ownerWithNode(`<script>alert("owner")</script>`, evil);
    await postCrash(owned.nodeKey, [`UNCAUGHT: Error: ${evil}`, "<script>alert(2)</script>", "EXIT code=1"]);
    await eventually(
      () => edge.admin("/api/support/bridge?status=pending"),
      (r) => JSON.stringify(r.body).includes("onerror=alert(1)"),
      40_000,
      "the bridge message",
    );

    const nana = await browser("xss-nana");
    await signInAsNana(nana, await signInLink(owned.ownerId));
    await waitForText(nana.page, "main", evil);
    await nana.shot("nana");
    const support = await browser("xss-support");
    await signInAsSupport(support);
    await support.page.goto(`${edge.url}/support?q=${encodeURIComponent("<img")}`);
    await waitForText(support.page, "main", evil);
    await support.shot("fleet");
    await support.page.goto(`${edge.url}/support/bridge`);
    await waitForText(support.page, "main", `UNCAUGHT: Error: ${evil}`);
    await support.shot("bridge");
    await support.page.goto(`${edge.url}/support/crash-groups`);
    await waitForText(support.page, "main", "UNCAUGHT: Error: <img src=x onerror=alert(");
    await support.shot("crash-groups");
    for (const watched of [nana, support]) {
      expect(watched.dialogs).toEqual([]);
      expect(await watched.page.locator("main img").count()).toBe(0);
      expect(watched.errors.filter((e) => /Content Security Policy|alert/i.test(e))).toEqual([]);
    }
  });

  it("a cross-site form posting to the edge with IT Support's session is refused", async () => {
    const { ownerId } = await ownerWithNode("Target", "Target PC");
    const evilSite = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/html" });
      res.end(
        `<!doctype html><title>evil</title><form method="post" action="${edge.url}/api/admin/owners/${ownerId}/sign-in-link">` +
          `<button type="submit">Win a prize</button></form>`,
      );
    });
    evilSite.on("error", (error) => console.error("evil site:", error));
    servers.push(evilSite);
    await new Promise<void>((resolve) => evilSite.listen(0, "127.0.0.1", () => resolve()));
    const evilUrl = `http://127.0.0.1:${(evilSite.address() as AddressInfo).port}/`;

    const support = await browser("csrf");
    await signInAsSupport(support);
    await support.page.goto(evilUrl);
    await support.shot("evil-page");
    const [response] = await Promise.all([
      support.page.waitForResponse((r) => r.url().includes("/sign-in-link"), { timeout: 15_000 }),
      support.page.getByRole("button", { name: "Win a prize" }).click(),
    ]);
    expect(response.status()).toBe(403);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("cross_origin_refused");
    await support.shot("refused");
  });
});
