/**
 * Installers: what an owner downloads from the setup page. Each release may carry one installer
 * per platform, stored in R2 next to its bundle (`installers/<version>/<platform>`) with a small
 * registration record beside it (`installers/<version>/<platform>.json`: size and SHA-256 the
 * edge checked). Only registered installers are served, always the newest active release's.
 */
import { z } from "zod";
import type { Database } from "../db/client.ts";
import { activeReleases } from "../db/releases.ts";

export const PLATFORMS = ["windows-x64", "linux-x64", "macos-x64", "macos-arm64"] as const;
export type Platform = (typeof PLATFORMS)[number];
export const PlatformParamSchema = z.enum(PLATFORMS, { message: `must be one of ${PLATFORMS.join(", ")}` });

export const PLATFORM_LABELS: Record<Platform, string> = {
  "windows-x64": "Windows (64-bit)",
  "linux-x64": "Linux (64-bit)",
  "macos-x64": "macOS (Intel)",
  "macos-arm64": "macOS (Apple silicon)",
};

/** The installer's R2 key and its registration record's. */
export function installerKey(version: string, platform: Platform): string {
  return `installers/${version}/${platform}`;
}
function recordKey(version: string, platform: Platform): string {
  return `${installerKey(version, platform)}.json`;
}

/**
 * The file name the owner's browser saves, with the code in it: the Windows installer reads its
 * code back from its own file name (a browser's " (1)" suffix is tolerated there).
 */
export function installerFileName(platform: Platform, code: string): string {
  switch (platform) {
    case "windows-x64":
      return `Buhdi-Setup-${code}.msi`;
    case "linux-x64":
    case "macos-x64":
    case "macos-arm64":
      return `buhdi-setup-${code}-${platform}.tar.gz`;
  }
}

export const INSTALLER_CONTENT_TYPES: Record<Platform, string> = {
  "windows-x64": "application/x-msi",
  "linux-x64": "application/gzip",
  "macos-x64": "application/gzip",
  "macos-arm64": "application/gzip",
};

export const InstallerRecordSchema = z.object({
  version: z.string(),
  platform: PlatformParamSchema,
  size: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  registered_at: z.string(),
});
export type InstallerRecord = z.output<typeof InstallerRecordSchema>;

export async function writeInstallerRecord(bucket: R2Bucket, record: InstallerRecord): Promise<void> {
  await bucket.put(recordKey(record.version, record.platform), JSON.stringify(record), {
    httpMetadata: { contentType: "application/json" },
  });
}

async function readInstallerRecord(bucket: R2Bucket, version: string, platform: Platform): Promise<InstallerRecord | null> {
  const object = await bucket.get(recordKey(version, platform));
  if (!object) return null;
  const parsed = InstallerRecordSchema.safeParse(await object.json().catch(() => null));
  return parsed.success ? parsed.data : null;
}

/** The newest active, unexpired stable release that has a registered installer for the platform. */
export async function currentInstaller(
  db: Database,
  bucket: R2Bucket,
  platform: Platform,
  now = Date.now(),
): Promise<InstallerRecord | null> {
  for (const release of await activeReleases(db, "stable")) {
    if (release.expiresAt.getTime() <= now) continue;
    const record = await readInstallerRecord(bucket, release.version, platform);
    if (record) return record;
  }
  return null;
}

/** Which platform a browser most likely runs on, from its User-Agent (no script on the page). */
export function platformFromUserAgent(userAgent: string | undefined): Platform | null {
  const ua = userAgent ?? "";
  if (/Windows NT/i.test(ua)) return "windows-x64";
  // Safari on Apple silicon still says "Intel Mac OS X"; macOS visitors get both links.
  if (/Mac OS X|Macintosh/i.test(ua) && !/iPhone|iPad/i.test(ua)) return "macos-arm64";
  if (/Linux/i.test(ua) && !/Android/i.test(ua)) return "linux-x64";
  return null;
}
