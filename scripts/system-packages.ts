/**
 * System packages the tests need that npm cannot bring. `node scripts/system-packages.ts`
 * (first step of `npm test`) installs what is missing with apt-get when it runs as root on
 * Debian, and otherwise stops with the package to install. Nothing is ever downloaded any other way.
 */
import { spawnSync } from "node:child_process";

export type SystemPackage = { command: string; debian: string; for: string };

export const SYSTEM_PACKAGES: SystemPackage[] = [{ command: "chromium", debian: "chromium", for: "browser tests" }];

export function isInstalled(command: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" }).status === 0;
}

export function missingPackages(): SystemPackage[] {
  return SYSTEM_PACKAGES.filter((p) => !isInstalled(p.command));
}

function main(): void {
  const missing = missingPackages();
  if (missing.length === 0) return;
  const names = missing.map((p) => `${p.debian} (${p.for})`).join(", ");
  const canApt = process.getuid?.() === 0 && isInstalled("apt-get");
  if (!canApt) {
    console.error(`Missing system packages: ${names}. Install them (Debian: apt-get install -y ${missing.map((p) => p.debian).join(" ")}) and run again.`);
    process.exit(1);
  }
  console.log(`Installing ${names} with apt-get…`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  for (const args of [["update"], ["install", "-y", ...missing.map((p) => p.debian)]]) {
    const result = spawnSync("apt-get", args, { stdio: "inherit", env });
    if (result.status !== 0) {
      console.error(`apt-get ${args[0]} failed (exit ${result.status}); install ${names} by hand.`);
      process.exit(1);
    }
  }
  const still = missingPackages();
  if (still.length > 0) {
    console.error(`Still missing after apt-get: ${still.map((p) => p.command).join(", ")}.`);
    process.exit(1);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) main();
