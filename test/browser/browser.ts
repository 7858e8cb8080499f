/**
 * Debian's chromium driven by playwright-core for the dashboard's browser tests: never a browser
 * download. One chromium per test file, a fresh context (its own cookies) per session, 127.0.0.1
 * only. Every page a test visits is saved as a screenshot under .tmp/screenshots/<test>/
 * (git-ignored): automatically on each load, as named shots where a test asks, and, after a
 * failed test, once more as each page was left (so it shows where the test stopped). Each page
 * also keeps the dialogs and console errors it saw, so a test can prove that no script of an
 * attacker ran.
 */
import { mkdir, readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { launchChromiumBrowser } from "../../scripts/chromium.ts";
import { REPO_ROOT } from "../../scripts/local-edge.ts";

export type WatchedPage = {
  page: Page;
  /** Every alert/confirm/prompt the page opened (none may, in these tests). */
  dialogs: string[];
  /** console.error messages and uncaught page errors (a CSP violation shows here too). */
  errors: string[];
  /** Saves a screenshot of what the page shows now as .tmp/screenshots/<test>/<n>-<name>.png. */
  shot(name: string): Promise<void>;
};

/** One signed-in person in one test: a browser context, and the pages the test opened in it. */
export type BrowserSession = {
  context: BrowserContext;
  newPage(): Promise<WatchedPage>;
  /**
   * Waits for the screenshots under way (with one of every open page as it was left, if asked),
   * then closes the test's pages, and the context unless it is shared.
   */
  close(options?: { shootOpenPages?: boolean }): Promise<void>;
};

export type Chromium = {
  /** A context of its own (its own cookies), to be shared by sessions. */
  newContext(): Promise<BrowserContext>;
  /** Screenshots go to .tmp/screenshots/<testName>/; a new context unless a shared one is given. */
  session(testName: string, shared?: BrowserContext): Promise<BrowserSession>;
  close(): Promise<void>;
};

const VIEWPORT = { width: 1280, height: 900 };

const SCREENSHOTS = path.join(REPO_ROOT, ".tmp", "screenshots");

const slug = (text: string, max: number) =>
  text
    .replace(/[^A-Za-z0-9_-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, max) || "page";

/** The path, without the one-time credentials some carry (a sign-in link's token, a setup code). */
function visitName(url: string): string {
  return new URL(url).pathname.replace(/^\/auth\/link\/.*/, "/auth/link").replace(/^\/setup\/[^/]+/, "/setup");
}

export async function startChromium(): Promise<Chromium> {
  const browser: Browser = await launchChromiumBrowser();
  return {
    newContext: () => browser.newContext({ viewport: VIEWPORT }),
    session: async (testName, shared) => {
      const dir = path.join(SCREENSHOTS, slug(testName, 80));
      await mkdir(dir, { recursive: true });
      const context = shared ?? (await withDeadline(browser.newContext({ viewport: VIEWPORT }), 30_000, () => "opening a browser context"));
      return openSession(context, dir, shared !== undefined);
    },
    close: () => browser.close(),
  };
}

/** A screenshot that takes longer than this (a page gone, a machine overloaded) is given up, never waited for. */
const SHOT_TIMEOUT_MS = 10_000;

function openSession(context: BrowserContext, dir: string, shared: boolean): BrowserSession {
  let shots = 0;
  const underWay = new Set<Promise<void>>();
  const pages: Page[] = [];
  /** One screenshot at a time per page: two at once on the same page were seen to hang. */
  const queues = new Map<Page, Promise<void>>();
  const screenshot = (page: Page, name: string): Promise<void> => {
    shots += 1;
    const file = path.join(dir, `${String(shots).padStart(2, "0")}-${slug(name, 60)}.png`);
    const take = () => page.screenshot({ path: file, fullPage: true, timeout: SHOT_TIMEOUT_MS }).then(() => undefined);
    const shot = (queues.get(page) ?? Promise.resolve()).then(take, take);
    queues.set(
      page,
      shot.catch(() => undefined),
    );
    return shot;
  };
  /**
   * A screenshot the test does not wait for. One of a page that navigates away meanwhile is lost,
   * and that is no failure of the test: the next page gets its own.
   */
  const inBackground = (page: Page, name: string) => {
    const shot = screenshot(page, name).catch(() => undefined);
    underWay.add(shot);
    void shot.finally(() => underWay.delete(shot));
  };
  return {
    context,
    newPage: async () => {
      const page = await withDeadline(context.newPage(), 30_000, () => "opening a page");
      pages.push(page);
      const watched: WatchedPage = {
        page,
        dialogs: [],
        errors: [],
        shot: (name) =>
          screenshot(page, name).catch((error: unknown) => {
            // Evidence, not behaviour: a screenshot that could not be taken does not fail the test.
            console.warn(`screenshot ${name} of ${page.url()} not saved: ${String(error).split("\n")[0]}`);
          }),
      };
      page.on("load", () => inBackground(page, `visit-${visitName(page.url())}`));
      page.on("dialog", (dialog) => {
        watched.dialogs.push(dialog.message());
        void dialog.dismiss().catch(() => undefined);
      });
      page.on("console", (message) => {
        if (message.type() === "error") watched.errors.push(message.text());
      });
      page.on("pageerror", (error) => watched.errors.push(String(error)));
      return watched;
    },
    close: async (options = {}) => {
      if (options.shootOpenPages) for (const page of pages) if (!page.isClosed()) inBackground(page, "left-as");
      await Promise.all([...underWay]);
      if (shared) await Promise.all(pages.map(closePage));
      else await context.close();
    },
  };
}

/**
 * Closes a page in bounded time. Chromium can acknowledge a close that races a navigation's commit
 * without closing anything (crbug.com/536385539), and page.close() then never resolves: after a few
 * seconds the page is asked to close itself (CDP Page.close; these pages have no beforeunload).
 */
export async function closePage(page: Page): Promise<void> {
  if (page.isClosed()) return;
  const closed = new Promise<void>((resolve) => page.once("close", () => resolve()));
  void page.close().catch(() => undefined);
  if (await Promise.race([closed.then(() => true), sleep(5_000).then(() => false)])) return;
  await page.close({ runBeforeUnload: true }).catch(() => undefined);
  await withDeadline(closed, 10_000, () => `closing ${page.url()} (asked twice)`);
}

/**
 * The promise, or a rejection after ms that names what was being waited for. For browser calls
 * with no timeout of their own (opening a context or a page, closing one): a stuck one must fail
 * its test with a reason, not hang every test after it.
 */
export function withDeadline<T>(promise: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what()}: not done within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** Waits until the page's text contains `text` (no fixed sleep), failing with what it showed instead. */
export async function waitForText(page: Page, selector: string, text: string | RegExp, timeoutMs = 30_000): Promise<void> {
  const source = typeof text === "string" ? { s: text, r: "", f: "" } : { s: null, r: text.source, f: text.flags };
  try {
    await page.waitForFunction(
      ([sel, want]) => {
        const el = document.querySelector(sel);
        const got = el?.textContent ?? "";
        return want.s !== null ? got.includes(want.s) : new RegExp(want.r, want.f).test(got);
      },
      [selector, source] as const,
      { timeout: timeoutMs, polling: 200 },
    );
  } catch (error) {
    const shown = await page
      .locator(selector)
      .first()
      .textContent({ timeout: 1000 })
      .catch(() => "(not on the page)");
    throw new Error(`waited ${timeoutMs} ms for ${selector} to show ${String(text)}; it shows: ${shown}\n${String(error).slice(0, 300)}`);
  }
}

/** Marks the page's window; reloadedSince() is true once a reload or navigation has wiped the mark. */
export async function markWindow(page: Page): Promise<void> {
  await page.evaluate(() => {
    (window as unknown as { buhdiTestMark?: number }).buhdiTestMark = 42;
  });
}

export async function reloadedSince(page: Page): Promise<boolean> {
  return (await page.evaluate(() => (window as unknown as { buhdiTestMark?: number }).buhdiTestMark)) !== 42;
}

export type AxeViolation = { id: string; impact: string | null; help: string; targets: string[] };

let axeSource: Promise<string> | null = null;

/** axe-core's serious and critical violations on the page as it is now (WCAG rules and best practices). */
export async function seriousAxeViolations(page: Page): Promise<AxeViolation[]> {
  axeSource ??= readFile(path.join(path.dirname(createRequire(import.meta.url).resolve("axe-core")), "axe.min.js"), "utf8");
  // Evaluated through the DevTools protocol, which the page's CSP does not govern: the page itself
  // still allows no inline script.
  await page.evaluate(`${await axeSource}\n;void 0`);
  const violations = await page.evaluate(async () => {
    type Result = { violations: Array<{ id: string; impact: string | null; help: string; nodes: Array<{ target: unknown[] }> }> };
    const axe = (window as unknown as { axe: { run(context: Document, options: { resultTypes: string[] }): Promise<Result> } }).axe;
    // Only violations are wanted: not collecting passes and incompletes makes a run much faster.
    const result = await axe.run(document, { resultTypes: ["violations"] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => String(n.target[0])) }));
  });
  return violations.filter((v) => v.impact === "serious" || v.impact === "critical");
}

/** Waits until an attribute of the first element matching `selector` matches `pattern`, failing with what it held instead. */
export async function waitForAttribute(page: Page, selector: string, name: string, pattern: RegExp, timeoutMs = 30_000): Promise<void> {
  try {
    await page.waitForFunction(
      ([sel, attr, r, f]) => new RegExp(r, f).test(document.querySelector(sel)?.getAttribute(attr) ?? ""),
      [selector, name, pattern.source, pattern.flags] as const,
      { timeout: timeoutMs, polling: 200 },
    );
  } catch (error) {
    const held = await page
      .locator(selector)
      .first()
      .getAttribute(name, { timeout: 1000 })
      .catch(() => "(not on the page)");
    throw new Error(
      `waited ${timeoutMs} ms for ${selector}'s ${name} to match ${String(pattern)}; it holds: ${held}\n${String(error).slice(0, 300)}`,
    );
  }
}
