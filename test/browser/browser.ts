/**
 * Debian's chromium driven by playwright-core for the dashboard's browser tests: never a browser
 * download. A fresh profile per browser, 127.0.0.1 only, every page's screenshots saved under
 * .tmp/screenshots/<test>/ (git-ignored), and the dialogs and console errors each page saw, so a
 * test can prove that no script of an attacker ran.
 */
import { mkdir } from "node:fs/promises";
import path from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { launchChromium } from "../../scripts/chromium.ts";
import { REPO_ROOT } from "../../scripts/local-edge.ts";

export type Browser = {
  context: BrowserContext;
  newPage(): Promise<WatchedPage>;
  close(): Promise<void>;
};

export type WatchedPage = {
  page: Page;
  /** Every alert/confirm/prompt the page opened (none may, in these tests). */
  dialogs: string[];
  /** console.error messages and uncaught page errors (a CSP violation shows here too). */
  errors: string[];
  /** Saves a screenshot of what the page shows now as .tmp/screenshots/<test>/<n>-<name>.png. */
  shot(name: string): Promise<void>;
};

export async function launchBrowser(testName: string): Promise<Browser> {
  const { context, close } = await launchChromium();
  const dir = path.join(REPO_ROOT, ".tmp", "screenshots", testName.replace(/[^A-Za-z0-9_-]+/g, "-").slice(0, 80));
  await mkdir(dir, { recursive: true });
  let shots = 0;
  return {
    context,
    newPage: async () => {
      const page = await context.newPage();
      const watched: WatchedPage = {
        page,
        dialogs: [],
        errors: [],
        shot: async (name) => {
          shots += 1;
          await page.screenshot({ path: path.join(dir, `${String(shots).padStart(2, "0")}-${name}.png`), fullPage: true });
        },
      };
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
    close,
  };
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
