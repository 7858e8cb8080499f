/**
 * Debian's chromium (`/usr/bin/chromium`, installed by scripts/system-packages.ts) driven by
 * playwright-core, for the browser tests and the dashboard benchmark: never a browser download,
 * a fresh profile (or fresh in-memory contexts) each time, removed on close.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { type Browser, type BrowserContext, chromium } from "playwright-core";
import { isInstalled } from "./system-packages.ts";

export const CHROMIUM = "/usr/bin/chromium";
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

function requireChromium(): void {
  if (!isInstalled("chromium")) {
    // Never a silent skip: npm test installs it first (scripts/system-packages.ts).
    throw new Error("chromium is not installed: run `node scripts/system-packages.ts` as root (apt-get install -y chromium).");
  }
}

/**
 * One chromium process for many isolated contexts (each its own cookies, storage and cache, all
 * in memory): the browser tests share one per test file, since launching chromium on a loaded
 * machine costs seconds each time.
 */
export async function launchChromiumBrowser(): Promise<Browser> {
  requireChromium();
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
}

export async function launchChromium(): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  requireChromium();
  const profile = await mkdtemp(path.join(tmpdir(), "buhdi-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 900 },
    timeout: 60_000,
  });
  return {
    context,
    close: async () => {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}
