/**
 * The demo's three releases, built by the real pipeline (scripts/build-agent.ts) and signed with
 * a key made for this run (the local edge and the node trust it, nothing else does):
 *   0.3.0  today's agent with agent/program/local-port.ts swapped for its 0.3.0 version
 *          (releases/local-port-0.3.0.ts): a plain listen, so a zombie on the port kills it;
 *   0.3.1  today's agent, which carries the fix (local-port.ts takes the port back);
 *   0.3.2  a release that dies on start (releases/dies-on-start.ts), to be rolled back.
 */
import path from "node:path";
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { buildAgent } from "../build-agent.ts";
import { buildInstallers } from "../build-installers.ts";
import { REPO_ROOT } from "../local-edge.ts";
import type { ReleaseKey } from "../release-key.ts";
import { release } from "../release.ts";

export const BUGGY = "0.3.0";
export const FIXED = "0.3.1";
export const BROKEN = "0.3.2";

const HERE = path.join(REPO_ROOT, "scripts", "demo", "releases");

/** Builds the three bundles under dir; returns version → bundle file. */
export async function buildDemoBundles(dir: string): Promise<Record<string, string>> {
  const [buggy, fixed, broken] = await Promise.all([
    buildAgent({
      version: BUGGY,
      outDir: dir,
      replace: { [path.join(REPO_ROOT, "agent", "program", "local-port.ts")]: path.join(HERE, "local-port-0.3.0.ts") },
    }),
    buildAgent({ version: FIXED, outDir: dir }),
    buildAgent({ version: BROKEN, outDir: dir, entry: path.join(HERE, "dies-on-start.ts") }),
  ]);
  return { [BUGGY]: buggy.file, [FIXED]: fixed.file, [BROKEN]: broken.file };
}

/** Uploads to the local edge's R2 and registers: what `npm run release` does. */
export async function publish(
  edge: { url: string; adminToken: string; persistDir: string },
  key: ReleaseKey,
  version: string,
  bundle: string,
) {
  return release({
    version,
    channel: "stable",
    key,
    server: edge.url,
    adminToken: edge.adminToken,
    remote: false,
    persistDir: edge.persistDir,
    expiresInDays: 30,
    bundle,
  });
}

/**
 * The Linux single executable around a demo bundle, as `npm run release` builds it; cached under
 * .tmp/demo-installers/ by the bundle's hash, so only the first demo pays for the build.
 */
export async function linuxExecutable(bundle: string): Promise<string> {
  const bytes = await readFile(bundle);
  const [built] = await buildInstallers({
    version: BUGGY,
    platforms: ["linux-x64"],
    outDir: path.join(REPO_ROOT, ".tmp", "demo-installers"),
    agent: { version: BUGGY, file: bundle, size: bytes.length, sha256: createHash("sha256").update(bytes).digest("hex") },
    log: () => {},
  });
  if (!built?.executable) throw new Error("the Linux installer build returned no executable");
  return built.executable;
}
