/**
 * The dashboard in chromium against a local edge:
 *  - dashboard_first_load_kb: the JavaScript and CSS a first load of each view fetches, gzipped
 *    (target ≤ 100 KB each);
 *  - fleet_page_ms_2000_over_1: IT Support's fleet page (first page of 50, by name) from
 *    navigation start to the load event with 2,000 nodes, over the same with 1 node, same run,
 *    same edge and browser (target ≤ 3). The 1,999 extra nodes are written straight into the
 *    local D1 while the edge is stopped (enrolling them through the API would take minutes and
 *    measure nothing of the page).
 */
import { gzipSync } from "node:zlib";
import type { Page } from "playwright-core";
import { launchChromium } from "../scripts/chromium.ts";
import { d1ExecuteFile } from "./d1-local.ts";
import { startEdge, stopEdge } from "./edges.ts";
import { createOwner, enrollNode } from "./fleet.ts";
import { log } from "./settings.ts";

export type DashboardFigures = {
  dashboard_first_load_kb: Record<string, number>;
  fleet_page_ms_1: number;
  fleet_page_ms_2000: number;
  fleet_page_ms_2000_over_1: number;
};

const LOADS = 7;
const WARMUPS = 2;
const VIEWS: Record<string, string> = {
  nana: "/home",
  fleet: "/support",
  bridge: "/support/bridge",
  known_issues: "/support/known-issues",
  releases: "/support/releases",
};

async function signInSupport(page: Page, url: string, token: string): Promise<void> {
  await page.goto(`${url}/auth/support`);
  await page.getByLabel("Admin token").fill(token);
  await Promise.all([page.waitForURL(/\/support/), page.getByRole("button", { name: "Sign in" }).click()]);
}

async function signInOwner(page: Page, url: string, token: string, ownerId: string): Promise<void> {
  const res = await fetch(`${url}/api/admin/owners/${ownerId}/sign-in-link`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}` },
  });
  const link = (await res.json()) as { url: string };
  await page.goto(link.url);
  await Promise.all([page.waitForURL(/\/home/), page.getByRole("button", { name: "Sign in" }).click()]);
}

/**
 * JS + CSS of one fresh load of `path` (cache disabled by a new page in a fresh context), gzipped, in KB.
 * The files are read again after the load, with the page's own cookies: reading a body from the
 * browser races the page (chromium answered "No resource with given identifier found" for one).
 */
async function firstLoadKb(page: Page, url: string): Promise<number> {
  const files = new Set<string>();
  const onResponse = (response: import("playwright-core").Response) => {
    if (/javascript|text\/css/.test(response.headers()["content-type"] ?? "")) files.add(response.url());
  };
  page.on("response", onResponse);
  await page.goto(url, { waitUntil: "load" });
  page.off("response", onResponse);
  let bytes = 0;
  for (const file of files) {
    const response = await page.request.get(file);
    if (!response.ok()) throw new Error(`dashboard: ${file} answered ${response.status()} when read again`);
    bytes += gzipSync(await response.body()).byteLength;
  }
  return Math.round((bytes / 1024) * 10) / 10;
}

async function loadMs(page: Page, url: string): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < WARMUPS + LOADS; i++) {
    await page.goto(url, { waitUntil: "load" });
    const ms = (await page.evaluate(`performance.getEntriesByType("navigation")[0].loadEventEnd`)) as number;
    if (i >= WARMUPS) times.push(ms);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

function extraNodesSql(ownerId: string, count: number): string {
  const rows: string[] = [];
  for (let i = 0; i < count; i++) {
    const id = crypto.randomUUID();
    rows.push(
      `('${id}', '${ownerId}', 'bench-node-${String(i).padStart(4, "0")}', '${"0".repeat(64)}', 'win32', 'x64', '0.3.0', 'offline')`,
    );
  }
  const statements: string[] = [];
  for (let i = 0; i < rows.length; i += 200) {
    statements.push(
      `INSERT INTO nodes (id, owner_id, name, key_hash, os, arch, version, status) VALUES ${rows.slice(i, i + 200).join(",\n")};`,
    );
  }
  return statements.join("\n");
}

export async function benchDashboard(): Promise<DashboardFigures> {
  let edge = await startEdge({ direct: true });
  const { url, adminToken, persistDir } = edge;
  const ownerId = await createOwner(edge);
  await enrollNode(edge, ownerId, "the one node");
  const browser = await launchChromium();
  try {
    const kb: Record<string, number> = {};
    for (const [view, path] of Object.entries(VIEWS)) {
      // A fresh page per view; routing the assets turns the browser cache off, so each load fetches them.
      const page = await browser.context.newPage();
      await page.route("**/assets/**", (route) =>
        route.continue({ headers: { ...route.request().headers(), "cache-control": "no-cache" } }),
      );
      if (view === "nana") await signInOwner(page, url, adminToken, ownerId);
      else await signInSupport(page, url, adminToken);
      kb[view] = await firstLoadKb(page, `${url}${path}`);
      await page.close();
    }
    log(`dashboard: first load JS+CSS gzipped (KB): ${JSON.stringify(kb)}`);

    const page = await browser.context.newPage();
    await signInSupport(page, url, adminToken);
    const one = await loadMs(page, `${url}/support`);
    log(`dashboard: fleet page with 1 node: ${one.toFixed(0)} ms (median of ${LOADS})`);

    const port = Number(new URL(url).port);
    await stopEdge(edge, { keepState: true });
    await d1ExecuteFile(persistDir, extraNodesSql(ownerId, 1999));
    edge = await startEdge({ direct: true, port, persistDir, adminToken });
    const many = await loadMs(page, `${url}/support`);
    const rows = await page.locator("tbody tr").count();
    if (rows !== 50) throw new Error(`the fleet page with 2,000 nodes showed ${rows} rows, not 50`);
    log(`dashboard: fleet page with 2,000 nodes: ${many.toFixed(0)} ms (median of ${LOADS})`);
    return {
      dashboard_first_load_kb: kb,
      fleet_page_ms_1: Math.round(one),
      fleet_page_ms_2000: Math.round(many),
      fleet_page_ms_2000_over_1: Math.round((many / one) * 100) / 100,
    };
  } finally {
    await browser.close();
    await stopEdge(edge);
  }
}
