/**
 * The dashboards in a real browser (Debian's chromium) against a real local edge and real
 * agents: signing in by link, Nana's computer going offline and back without a reload, a crash
 * she is told about, a real crash fixed by a signed update, another owner's computer out of her
 * reach, IT Support's actions and live pages, what an attacker's node name, crash lines or
 * cross-site form can and cannot do, and axe-core on every page. One edge, one chromium and one
 * IT Support session serve the whole file: each costs seconds to start on a loaded machine.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { BrowserContext } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { buildAgent } from "../../scripts/build-agent.ts";
import { adminClient, type AdminClient } from "../../scripts/demo/admin-client.ts";
import { publish } from "../../scripts/demo/releases.ts";
import { newReleaseKey, type ReleaseKey, trustedKeysVar } from "../../scripts/release-key.ts";
import type { LocalEmail } from "../../scripts/local-email.ts";
import { startEdge, type Edge } from "../support/edge.ts";
import { tempHome } from "../support/helpers.ts";
import { eventually, FAST_EDGE_VARS, liveNodes } from "../support/live-node.ts";
import { trustEnv } from "../support/release-fixtures.ts";
import {
  type BrowserSession,
  type Chromium,
  closePage,
  markWindow,
  reloadedSince,
  seriousAxeViolations,
  startChromium,
  waitForAttribute,
  waitForText,
  type WatchedPage,
  withDeadline,
} from "./browser.ts";

let edge: Edge;
let admin: AdminClient;
let chromium: Chromium;
let releaseKey: ReleaseKey;
/** What the edge handed its local send_email binding. */
const emails: LocalEmail[] = [];
const nodes = liveNodes();
/** The current test's browser sessions, closed after it (a failed test's with a last screenshot of each page). */
const sessions: BrowserSession[] = [];
const servers: Server[] = [];

/** A fix counts as verified after 3 s healthy on it (60 s in production). */
const VERIFY_HEALTHY_SECONDS = 3;
/** Today's agent, built and signed as the release that fixes the crash in "a crash fixed by a signed update". */
const FIX = "0.3.1";
let fixPublished: Promise<void>;

beforeAll(async () => {
  releaseKey = newReleaseKey();
  let fixBundle: string;
  [edge, chromium, fixBundle] = await Promise.all([
    startEdge({
      vars: {
        ...FAST_EDGE_VARS,
        VERIFY_HEALTHY_SECONDS: String(VERIFY_HEALTHY_SECONDS),
        RELEASE_PUBLIC_KEYS: trustedKeysVar([releaseKey]),
        EMAIL_FROM: "it-support@buhdi.test",
      },
      onEmail: (email) => emails.push(email),
    }),
    startChromium(),
    tempHome().then(async (outDir) => (await buildAgent({ version: FIX, outDir })).file),
  ]);
  admin = adminClient(edge.url, edge.adminToken);
  // Published the way `npm run release` does it, at a rollout of 0 %: a crash that needs it waits
  // until IT Support widens the rollout. Its wrangler upload takes seconds: the first tests run
  // meanwhile, and the tests that use the release wait for it.
  fixPublished = publish(edge, releaseKey, FIX, fixBundle).then(async () => {
    await admin.call(`/api/admin/releases/${FIX}/rollout`, { percent: 0 });
  });
  fixPublished.catch(() => undefined);
  // IT Support signs in while the first tests (Nana's) run: the first IT Support test then has
  // its whole timeout for what it checks. A failed sign-in is tried again by the test that needs it.
  signedInSupport().catch(() => undefined);
});
/** Closing a session is bounded: one that hangs is reported and left, and the next test goes on. */
function closeSessions(options: { shootOpenPages?: boolean } = {}): Promise<unknown> {
  return Promise.all(
    sessions
      .splice(0)
      .map((s) => withDeadline(s.close(options), 30_000, () => "closing a browser session").catch((error) => console.warn(String(error)))),
  );
}

afterEach(async (context) => {
  await closeSessions({ shootOpenPages: context.task.result?.state === "fail" });
});
afterAll(async () => {
  await fixPublished?.catch(() => undefined);
  await closeSessions();
  await withDeadline(
    supportContext?.then((context) => context.close()) ?? Promise.resolve(),
    30_000,
    () => "closing IT Support's context",
  ).catch(() => undefined);
  await chromium?.close();
  await nodes.stopAll();
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  await edge?.stop();
});

/** A browser context of its own (its own cookies): one signed-in person. */
async function session(testName: string): Promise<BrowserSession> {
  const opened = await chromium.session(testName);
  sessions.push(opened);
  return opened;
}

async function browser(testName: string): Promise<WatchedPage> {
  return (await session(testName)).newPage();
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

/**
 * IT Support signed in once through the sign-in form, in a context the IT Support tests share
 * (each with its own pages and screenshots): the form costs seconds on a loaded machine.
 */
let supportContext: Promise<BrowserContext> | null = null;

function signedInSupport(): Promise<BrowserContext> {
  if (supportContext) return supportContext;
  let step = "opening a browser context";
  const signingIn = (async () => {
    const context = await chromium.newContext();
    step = "opening a page";
    const page = await context.newPage();
    step = "loading the sign-in form";
    await page.goto(`${edge.url}/auth/support`, { timeout: 20_000 });
    step = "filling in the admin token";
    await page.getByLabel("Admin token").fill(edge.adminToken, { timeout: 10_000 });
    step = "signing in";
    await Promise.all([page.waitForURL(/\/support$/, { timeout: 15_000 }), page.getByRole("button", { name: "Sign in" }).click()]);
    step = "closing the sign-in page";
    await closePage(page);
    return context;
  })();
  // A failed sign-in fails the test that waited for it, and the next IT Support test signs in afresh.
  const current = withDeadline(signingIn, 60_000, () => `IT Support's sign-in (at: ${step})`);
  supportContext = current;
  current.catch(() => {
    if (supportContext === current) supportContext = null;
  });
  return current;
}

async function supportSession(testName: string): Promise<BrowserSession> {
  const context = await signedInSupport();
  const opened = await withDeadline(chromium.session(testName, context), 30_000, () => `opening IT Support's session for ${testName}`);
  sessions.push(opened);
  return opened;
}

async function supportBrowser(testName: string): Promise<WatchedPage> {
  return (await supportSession(testName)).newPage();
}

async function newOwner(name: string): Promise<string> {
  return (await admin.createOwner(`${crypto.randomUUID()}@example.com`, name)).owner_id;
}

async function enroll(code: string): Promise<{ nodeId: string; nodeKey: string }> {
  const res = await fetch(`${edge.url}/api/enroll`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ code, os: "linux", arch: "x64", version: "0.3.0" }),
  });
  expect(res.status).toBe(201);
  const body = (await res.json()) as { node_id: string; node_key: string };
  return { nodeId: body.node_id, nodeKey: body.node_key };
}

/** An owner and an enrolled node named `name`, through the API (no agent process). */
async function ownerWithNode(ownerName: string, name: string): Promise<{ ownerId: string; nodeId: string; nodeKey: string }> {
  const ownerId = await newOwner(ownerName);
  return { ownerId, ...(await enroll((await admin.enrollmentCode(ownerId, name)).code)) };
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
  await Promise.all([page.waitForURL(`${edge.url}/home`, { timeout: 15_000 }), page.getByRole("button", { name: "Sign in" }).click()]);
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
    // A mark that a reload would wipe: the changes below must arrive in place.
    await markWindow(nana.page);

    await node.killHard();
    await waitForText(nana.page, card, /^Offline since \d{1,2}:\d{2}/, 40_000);
    await nana.shot("offline");

    const again = await nodes.start(home);
    await waitForText(nana.page, card, "Working normally", 40_000);
    await nana.shot("back");
    expect(await reloadedSince(nana.page), "Nana's page was reloaded").toBe(false);
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
    const nana = await session("used-link");
    await signInAsNana(await nana.newPage(), link);
    const again = await nana.newPage();
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
    const missing = await nana.page.goto(`${edge.url}/api/nodes/${crypto.randomUUID()}`);
    expect(missing?.status()).toBe(404);
    const support = await nana.page.goto(`${edge.url}/support`);
    expect(support?.status()).toBe(403);
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
    const support = await supportBrowser("bridge-ack");
    await support.page.goto(`${edge.url}/support/bridge?status=pending`);
    const item = support.page.locator("li", { hasText: "bridge test crash" }).first();
    await item.waitFor({ timeout: 10_000 });
    await support.shot("bridge-pending");
    await Promise.all([support.page.waitForEvent("load"), item.getByRole("button", { name: "Acknowledge" }).click()]);
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
    const support = await supportBrowser("known-issue-dry-run");
    await support.page.goto(`${edge.url}/support/known-issues`);
    const row = support.page.locator("tr", { hasText: "EADDRINUSE" }).first();
    await row.getByRole("button", { name: "Dry run" }).click();
    await waitForText(support.page, "main", /Matches \d+ of \d+ recent crash groups/, 15_000);
    await support.shot("dry-run");
  });

  it("refuses a pattern the linear-time engine cannot run, and the page shows why", async () => {
    const support = await supportBrowser("known-issue-refused");
    await support.page.goto(`${edge.url}/support/known-issues`);
    await support.page.getByLabel("Pattern (regular expression)").fill("(a)\\1");
    await support.page.getByRole("button", { name: "Create (enabled)" }).click();
    await waitForText(support.page, 'form[data-api-path="/api/admin/known-issues"] output', /^Refused \(400\): /, 15_000);
    await support.shot("refused-pattern");
  });

  it("edits a known issue's pattern and description, then disables it, from the page", async () => {
    const created = await edge.admin("/api/admin/known-issues", {
      pattern: "browser test: edit me",
      description: "before the edit",
      fix_type: "manual",
    });
    expect(created.status).toBe(201);
    const id = (created.body as { id: string }).id;
    const support = await supportBrowser("known-issue-edit-disable");
    await support.page.goto(`${edge.url}/support/known-issues`);
    const row = support.page.locator(`tr[data-known-issue-id="${id}"]`);
    await row.getByText("Edit", { exact: true }).click();
    await row.getByLabel("Pattern").fill("browser test: edited \\d+ times");
    await row.getByLabel("Description").fill("after the edit");
    await support.shot("editing");
    await Promise.all([support.page.waitForEvent("load"), row.getByRole("button", { name: "Save" }).click()]);
    await waitForText(support.page, `tr[data-known-issue-id="${id}"] [data-testid="pattern"]`, "browser test: edited \\d+ times");
    await waitForText(support.page, `tr[data-known-issue-id="${id}"] [data-testid="pattern"]`, "after the edit");
    await support.shot("edited");
    const issue = async () =>
      (
        (await edge.admin("/api/admin/known-issues")).body as {
          items: Array<{ id: string; pattern: string; description: string; enabled: boolean }>;
        }
      ).items.find((i) => i.id === id);
    expect(await issue()).toMatchObject({ pattern: "browser test: edited \\d+ times", description: "after the edit", enabled: true });

    await Promise.all([support.page.waitForEvent("load"), row.getByRole("button", { name: "Disable" }).click()]);
    await waitForText(support.page, `tr[data-known-issue-id="${id}"] [data-testid="enabled"]`, "no");
    expect(await row.getByRole("button", { name: "Enable" }).count()).toBe(1);
    await support.shot("disabled");
    expect(await issue()).toMatchObject({ enabled: false });
  });

  it("halts and resumes a release from the page", async () => {
    await fixPublished;
    // The fix release, at a rollout of 0 % until the crash test below widens it: no node is offered it meanwhile.
    const support = await supportBrowser("release-halt-resume");
    await support.page.goto(`${edge.url}/support/releases`);
    const row = support.page.locator(`tr[data-release="${FIX}"]`);
    const state = `tr[data-release="${FIX}"] [data-testid="release-state"]`;
    await waitForText(support.page, state, "active");
    await Promise.all([support.page.waitForEvent("load"), row.getByRole("button", { name: "Halt" }).click()]);
    await waitForText(support.page, state, "halted: halted from the dashboard", 15_000);
    await support.shot("halted");
    expect((await admin.releases()).find((r) => r.version === FIX)).toMatchObject({
      status: "halted",
      halted_reason: "halted from the dashboard",
    });
    await Promise.all([support.page.waitForEvent("load"), row.getByRole("button", { name: "Resume" }).click()]);
    await waitForText(support.page, state, /^active$/, 15_000);
    await support.shot("resumed");
    expect((await admin.releases()).find((r) => r.version === FIX)).toMatchObject({ status: "active", halted_reason: null });
  });

  it("invites an owner by email: the form says so, and the invitation with the setup link goes to the address given", async () => {
    const support = await supportBrowser("invitation-email");
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
    const support = await supportBrowser("invitation");
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

  it("shows a status change within 10 s on the fleet and on the node's own page, whose memory chart fills in, without a reload", async () => {
    const { home, nodeId } = await edge.enrolledHome();
    const support = await supportSession("fleet-and-node-live");
    const fleet = await support.newPage();
    const row = `tr[data-node-id="${nodeId}"] [data-testid="status"]`;
    await fleet.page.goto(`${edge.url}/support?q=Kitchen&sort=last_seen&dir=desc`);
    await waitForText(fleet.page, row, "offline");
    const detail = await support.newPage();
    await detail.page.goto(`${edge.url}/support/nodes/${nodeId}`);
    const status = '#node [data-testid="status"]';
    const memory = '#node svg[role="img"][aria-label^="Memory: "]';
    await waitForText(detail.page, status, "offline");
    expect(await detail.page.locator(memory).getAttribute("aria-label")).toBe("Memory: no samples in the last 24 h");
    await detail.shot("never-connected");
    // Marks that a reload would wipe: every change below must arrive in place.
    await markWindow(fleet.page);
    await markWindow(detail.page);

    const node = await nodes.start(home);
    await eventually(
      () => edge.nodeView(nodeId),
      (v) => v.status === "online",
      30_000,
      "the edge to see the node online",
    );
    let seenAt = Date.now();
    await Promise.all([waitForText(fleet.page, row, "online", 10_000), waitForText(detail.page, status, "online", 10_000)]);
    expect(Date.now() - seenAt).toBeLessThanOrEqual(10_000);
    await waitForAttribute(detail.page, memory, "aria-label", /^Memory: 1 samples over 24 h, latest [1-9]\d* MB/, 10_000);
    await fleet.shot("fleet-online");
    await detail.shot("node-online");

    await node.killHard();
    await eventually(
      () => edge.nodeView(nodeId),
      (v) => v.status === "offline",
      30_000,
      "the edge to see the node offline",
    );
    seenAt = Date.now();
    await Promise.all([waitForText(fleet.page, row, "offline", 10_000), waitForText(detail.page, status, "offline", 10_000)]);
    expect(Date.now() - seenAt).toBeLessThanOrEqual(10_000);
    await fleet.shot("fleet-offline");
    await detail.shot("node-offline");
    expect(await reloadedSince(fleet.page), "the fleet page was reloaded").toBe(false);
    expect(await reloadedSince(detail.page), "the node's page was reloaded").toBe(false);
    expect([...fleet.errors, ...detail.errors], "console errors").toEqual([]);
  }, 120_000);
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
    const support = await supportBrowser("xss-support");
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

    const support = await supportBrowser("csrf");
    await support.page.goto(evilUrl);
    const [response] = await Promise.all([
      support.page.waitForResponse((r) => r.url().includes("/sign-in-link"), { timeout: 15_000 }),
      support.page.getByRole("button", { name: "Win a prize" }).click(),
    ]);
    expect(response.status()).toBe(403);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("cross_origin_refused");
    await support.shot("refused");
  });
});

describe("a crash fixed by a signed update", () => {
  beforeAll(async () => {
    await fixPublished;
    await admin.call("/api/admin/known-issues", {
      pattern: "signal=SIGABRT",
      description: "the node program aborts; fixed in 0.3.1",
      fix_type: "update",
      fix_version: FIX,
    });
  });

  it("shows Nana a crash as a problem, then as fixed once triage and the update verified it, and IT Support the group's state and the node's update, with no reload", async () => {
    const ownerId = await newOwner("Nana");
    const { home, nodeId } = await edge.enrolledHome({}, (await admin.enrollmentCode(ownerId, "Sewing Laptop")).code);
    const node = await nodes.start(home, { ...trustEnv(releaseKey), BUHDI_NODE_UPDATE_HEALTHY_MS: "2000" });
    try {
      await eventually(
        () => edge.nodeView(nodeId),
        (v) => v.status === "online",
        30_000,
        "the node online",
      );

      const nana = await browser("crash-fixed-nana");
      await signInAsNana(nana, await signInLink(ownerId));
      const card = '.card[data-node-name="Sewing Laptop"]';
      await waitForText(nana.page, `${card} [data-testid="status"]`, "Working normally");
      expect(await nana.page.locator(`${card} [data-testid="problem"]`).count()).toBe(0);
      const support = await supportSession("crash-fixed-support");
      const groups = await support.newPage();
      await groups.page.goto(`${edge.url}/support/crash-groups`);
      const detail = await support.newPage();
      await detail.page.goto(`${edge.url}/support/nodes/${nodeId}`);
      for (const page of [nana.page, groups.page, detail.page]) await markWindow(page);

      // A real crash: the node program aborts; its supervisor records it and starts it again.
      process.kill((await node.health()).pid, "SIGABRT");
      const problem = `${card} [data-testid="problem"]`;
      await waitForText(nana.page, problem, /^Had a problem at \d{1,2}:\d{2}.* — we're looking into it$/, 40_000);
      await nana.shot("problem-waiting-for-the-rollout");
      const group = await eventually(
        async () => (await admin.crashGroups()).find((g) => g.title === "killed by SIGABRT"),
        (g) => g?.state === "waiting_for_release",
        10_000,
        "the crash group waiting for a release in the rollout",
      );
      const groupState = `tr[data-group-id="${group!.id}"] [data-testid="group-state"]`;
      await waitForText(groups.page, groupState, "waiting_for_release", 10_000);
      expect(await groups.page.locator(`tr[data-group-id="${group!.id}"]`).textContent()).toContain("signal=SIGABRT");
      await groups.shot("waiting-for-release");

      // IT Support widens the rollout from the releases page: the waiting node gets the fix.
      const releases = await support.newPage();
      await releases.page.goto(`${edge.url}/support/releases`);
      const fixRow = releases.page.locator(`tr[data-release="${FIX}"]`);
      await waitForText(releases.page, `tr[data-release="${FIX}"] [data-testid="rollout"]`, "0 %");
      await fixRow.getByLabel("Percent").fill("100");
      await Promise.all([releases.page.waitForEvent("load"), fixRow.getByRole("button", { name: "Set rollout" }).click()]);
      await waitForText(releases.page, `tr[data-release="${FIX}"] [data-testid="rollout"]`, "100 %");
      await releases.shot("rollout-100");
      expect((await admin.releases()).find((r) => r.version === FIX)).toMatchObject({ rollout_percent: 100, status: "active" });

      await waitForText(nana.page, problem, `— fixed automatically (update ${FIX})`, 90_000);
      // The other pages refresh on their own 5 s clocks: at most one refresh behind Nana's.
      await Promise.all([
        waitForText(nana.page, `${card} .version`, `Version ${FIX}`, 10_000),
        waitForText(groups.page, groupState, "resolved", 10_000),
        waitForText(detail.page, "#node", `software_update 0.3.0 → ${FIX} · verified`, 10_000),
      ]);
      // The node's page: the update command with the node's ack, and the crash in the timeline.
      expect(await detail.page.locator("#node table").textContent()).toMatch(/SOFTWARE_UPDATE\d+×done: installed 0\.3\.1/);
      expect(await detail.page.locator("#node .timeline").textContent()).toContain("crash_report (critical) · 0.3.0");
      await Promise.all([nana.shot("fixed"), groups.shot("resolved"), detail.shot("updated")]);
      for (const page of [nana.page, groups.page, detail.page]) expect(await reloadedSince(page), page.url()).toBe(false);

      const resolutions = (await admin.resolutions(nodeId)).filter((r) => r.crash_group_id === group!.id);
      expect(resolutions.length).toBeGreaterThan(0);
      expect(resolutions.every((r) => r.action === "software_update" && r.fix_version === FIX && r.state === "verified")).toBe(true);
      expect(await edge.nodeView(nodeId)).toMatchObject({ status: "online", version: FIX });
    } finally {
      // SIGTERM: the supervisor stops whichever program runs now (0.3.1 after the update), then itself.
      node.supervisor.kill("SIGTERM");
      await node.exited;
    }
  }, 240_000);

  it("IT Support pushes the release to its rollout now, then yanks it, from the releases page", async () => {
    const target = await ownerWithNode("Push Owner", "Push PC");
    // Whatever the test before did: the whole fleet is in this release's rollout.
    expect((await edge.admin(`/api/admin/releases/${FIX}/rollout`, { percent: 100 })).status).toBe(200);
    const support = await supportBrowser("release-push-yank");
    await support.page.goto(`${edge.url}/support/releases`);
    const row = support.page.locator(`tr[data-release="${FIX}"]`);
    await row.getByRole("button", { name: "Push to the rollout now" }).click();
    await waitForText(
      support.page,
      `tr[data-release="${FIX}"] form[data-result="push"] output`,
      /^Pushing to every node in the rollout/,
      15_000,
    );
    await support.shot("pushed");
    // The push fans out through the edge's Queue: the node's command appears once its page has run.
    const commands = await eventually(
      () => admin.commands(target.nodeId),
      (list) => list.some((c) => c.type === "SOFTWARE_UPDATE"),
      30_000,
      "the pushed SOFTWARE_UPDATE in the node's commands",
    );
    const update = commands.find((c) => c.type === "SOFTWARE_UPDATE");
    expect(JSON.parse(update?.payload.manifest ?? "{}")).toMatchObject({ version: FIX });

    await Promise.all([support.page.waitForEvent("load"), row.getByRole("button", { name: "Yank" }).click()]);
    await waitForText(support.page, `tr[data-release="${FIX}"] [data-testid="release-state"]`, /^yanked$/);
    expect(await row.getByRole("button").count()).toBe(0);
    await support.shot("yanked");
    expect((await admin.releases()).find((r) => r.version === FIX)).toMatchObject({ status: "yanked" });
    // A node that was sent the update before the yank can no longer download it.
    const download = await fetch(`${edge.url}/api/node/releases/${FIX}/bundle`, { headers: { "x-node-key": target.nodeKey } });
    expect(download.status).toBe(410);
  });
});

describe("accessibility", () => {
  it("axe-core finds no serious or critical violation on any page: sign-in, Nana's, IT Support's and the setup link's", async () => {
    const owned = await ownerWithNode("Axe Owner", "Axe PC");
    // Triage turns this into a ticket and a bridge message while the pages below are checked.
    await postCrash(owned.nodeKey, ["UNCAUGHT: Error: axe test crash", "EXIT code=1"]);
    const found: Record<string, unknown> = {};
    // One page for every check: axe's first run in a new page costs seconds more than the next ones.
    const visitor = await browser("axe-every-page");
    const { page } = visitor;
    const check = async (name: string) => {
      const violations = await seriousAxeViolations(page);
      if (violations.length > 0) found[name] = violations;
    };

    const setup = await admin.enrollmentCode(owned.ownerId, "Axe Laptop");
    expect((await page.goto(setup.setup_url))?.status()).toBe(200);
    await check("setup-link");
    await enroll(setup.code);
    expect((await page.goto(setup.setup_url))?.status()).toBe(410);
    await check("setup-link-used");

    const link = await signInLink(owned.ownerId);
    await page.goto(link);
    await check("sign-in-link");
    await Promise.all([page.waitForURL(`${edge.url}/home`), page.getByRole("button", { name: "Sign in" }).click()]);
    await waitForText(page, '.card[data-node-name="Axe PC"] [data-testid="problem"]', "We're looking into a problem", 40_000);
    await check("nana-home");
    expect((await page.goto(link))?.status()).toBe(410);
    await check("used-link");
    await page.goto(`${edge.url}/home`);
    await Promise.all([page.waitForEvent("load"), page.getByRole("button", { name: "Sign out" }).click()]);
    await waitForText(page, "main", "You are signed out");
    await check("signed-out");

    await page.goto(`${edge.url}/auth/support`);
    await check("support-sign-in");
    await page.getByLabel("Admin token").fill(edge.adminToken);
    await Promise.all([page.waitForURL(/\/support$/), page.getByRole("button", { name: "Sign in" }).click()]);
    await check("fleet");
    await eventually(
      () => admin.bridge(),
      (items) => items.some((m) => m.text.includes("axe test crash")),
      40_000,
      "the crash's bridge message",
    );
    for (const [name, pathname] of [
      ["node-detail", `/support/nodes/${owned.nodeId}`],
      ["crash-groups", "/support/crash-groups"],
      ["bridge-inbox", "/support/bridge"],
      ["known-issues", "/support/known-issues"],
      ["releases", "/support/releases"],
      ["invitations", "/support/invitations"],
    ] as const) {
      expect((await page.goto(`${edge.url}${pathname}`))?.status(), pathname).toBe(200);
      await check(name);
    }
    expect(found).toEqual({});
  }, 180_000);
});
