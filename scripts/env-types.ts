/**
 * The Worker's `Env` comes from `wrangler types` (worker/worker-configuration.d.ts,
 * checked in). `npm run types:env` regenerates it after wrangler.toml changes;
 * `npm run check:env` (part of `npm test`) regenerates into a scratch file and
 * fails if the checked-in one differs. `wrangler types --check` only compares the
 * hash in the header, so a hand edit would pass it; this compares the text.
 *
 * Deterministic without .dev.vars: secrets are named in worker/secret-names.env
 * (no values), the runtime types stay @cloudflare/workers-types' (tsconfig.json).
 */
import { execFileSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const WRANGLER = path.join(REPO_ROOT, "node_modules", "wrangler", "bin", "wrangler.js");

const TARGET = "worker/worker-configuration.d.ts";
// Beside the target, so the relative imports wrangler writes (./index) come out the same.
const SCRATCH = "worker/.worker-configuration.check.d.ts";
const ARGS = [
  "--env-interface=GeneratedEnv",
  "--env-file=worker/secret-names.env",
  "--include-runtime=false",
  "--include-main-module=false",
  "--strict-vars=false",
];

function generate(file: string): void {
  try {
    execFileSync(process.execPath, [WRANGLER, "types", file, ...ARGS], { cwd: REPO_ROOT, stdio: "pipe", encoding: "utf8" });
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string };
    console.error(failed.stdout, failed.stderr);
    throw new Error(`wrangler types ${file} failed`);
  }
}

if (process.argv.includes("--check")) {
  try {
    generate(SCRATCH);
    // The header names the file it was written to; that line is the only one allowed to differ.
    const fresh = readFileSync(path.join(REPO_ROOT, SCRATCH), "utf8").replaceAll(SCRATCH, TARGET);
    const current = readFileSync(path.join(REPO_ROOT, TARGET), "utf8");
    if (fresh !== current) {
      console.error(`${TARGET} is out of date with wrangler.toml: run \`npm run types:env\` and commit the result.`);
      process.exitCode = 1;
    } else {
      console.log(`${TARGET} is up to date.`);
    }
  } finally {
    rmSync(path.join(REPO_ROOT, SCRATCH), { force: true });
  }
} else {
  generate(TARGET);
  console.log(`Wrote ${TARGET}.`);
}
