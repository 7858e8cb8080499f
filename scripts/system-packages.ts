/**
 * `node scripts/system-packages.ts`: run first by `npm test`. The installer and browser tests
 * need a few Debian packages; each command below is checked and the missing packages are installed with
 * apt-get (as root). Not root and something missing: it stops and names the packages, so no test
 * is silently skipped for a missing tool (in CI or anywhere else).
 *
 * One line per command; add a line to need another.
 */
import { execFileSync, spawnSync } from "node:child_process";

/** command → the Debian package that provides it. */
export const SYSTEM_PACKAGES: ReadonlyArray<{ command: string; pkg: string }> = [
  { command: "wixl", pkg: "wixl" },
  { command: "wine", pkg: "wine" },
  { command: "wineserver", pkg: "wine64" },
  { command: "osslsigncode", pkg: "osslsigncode" },
  { command: "strip", pkg: "binutils" },
  { command: "openssl", pkg: "openssl" },
  { command: "systemd-analyze", pkg: "systemd" },
  { command: "chromium", pkg: "chromium" },
];

export function isInstalled(command: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" }).status === 0;
}

function main(): void {
  const missing = SYSTEM_PACKAGES.filter((p) => !isInstalled(p.command));
  if (missing.length === 0) return;
  const packages = [...new Set(missing.map((p) => p.pkg))];
  const what = missing.map((p) => `${p.command} (${p.pkg})`).join(", ");
  if (process.getuid?.() !== 0) {
    console.error(`The tests need ${what}. Install them first: sudo apt-get install -y ${packages.join(" ")}`);
    process.exit(1);
  }
  console.error(`Installing what the tests need: ${what}`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  execFileSync("apt-get", ["update"], { stdio: "inherit", env });
  execFileSync("apt-get", ["install", "-y", ...packages], { stdio: "inherit", env });
  const still = missing.filter((p) => !isInstalled(p.command));
  if (still.length > 0) {
    console.error(`Still missing after apt-get: ${still.map((p) => p.command).join(", ")}`);
    process.exit(1);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) main();
