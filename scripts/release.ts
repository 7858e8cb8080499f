/**
 * `npm run release -- <version> [--channel stable] [--remote] [--key file.pem]`
 *
 * Builds the agent into one bundle, writes its manifest (version, channel,
 * sha256, size, created_at, expires_at), signs the manifest text with Ed25519,
 * uploads the bundle to R2 (local by default, the real bucket with --remote)
 * and registers the release with the edge's admin API: by default the local
 * edge `npm start` runs (token from .dev.vars); with --remote the deployed one
 * (BUHDI_EDGE_URL, BUHDI_ADMIN_TOKEN).
 *
 * The CLI also builds the installers of the release (scripts/build-installers.ts; signed where
 * BUHDI_CODESIGN_CERT/KEY are set), uploads them to R2 (`installers/<version>/<platform>`) and
 * registers them with the edge, which then serves them on the setup page. `--platforms a,b`
 * picks platforms, `--no-installers` skips them.
 */
import { spawnSync } from "node:child_process";
import { createHash, sign } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { type Channel, CHANNELS } from "../protocol/release.ts";
import { VersionSchema } from "../protocol/telemetry.ts";
import { REPO_ROOT } from "./local-edge.ts";
import { KEYS_DIR, loadReleaseKey, localReleaseKeys, type ReleaseKey } from "./release-key.ts";
import { type BuiltInstaller, buildInstallers, INSTALLER_PLATFORMS, type InstallerPlatform } from "./build-installers.ts";

const NODE22 = path.join(REPO_ROOT, "node_modules", ".bin", "node");
const WRANGLER = path.join(REPO_ROOT, "node_modules", "wrangler", "bin", "wrangler.js");

export type ReleaseOptions = {
  version: string;
  channel: Channel;
  key: ReleaseKey;
  server: string;
  adminToken: string;
  /** Upload to the real bucket instead of the local one. */
  remote: boolean;
  /** The local edge's state dir (where `wrangler dev` keeps R2), when not remote. */
  persistDir: string;
  expiresInDays: number;
  /** A bundle built elsewhere (e.g. a test fixture); default: build agent/ at this version. */
  bundle?: string;
  /** Installers to build, upload and register with the release (default none). */
  installers?: readonly InstallerPlatform[];
};

export type Released = {
  version: string;
  manifest: string;
  signature: string;
  key_id: string;
  bundle: string;
  registered: unknown;
  installers: BuiltInstaller[];
};

export async function release(options: ReleaseOptions): Promise<Released> {
  const bundle = options.bundle ?? build(options.version);
  const bytes = readFileSync(bundle);
  const now = new Date();
  const manifest = JSON.stringify({
    version: options.version,
    channel: options.channel,
    sha256: createHash("sha256").update(bytes).digest("hex"),
    size: bytes.byteLength,
    created_at: now.toISOString(),
    expires_at: new Date(now.getTime() + options.expiresInDays * 86_400_000).toISOString(),
  });
  const signature = sign(null, Buffer.from(manifest), options.key.privateKey).toString("base64");

  wrangler([
    "r2",
    "object",
    "put",
    `buhdi-releases/bundles/${options.version}/buhdi-node.mjs`,
    "--file",
    bundle,
    "--content-type",
    "application/javascript",
    ...(options.remote ? ["--remote"] : ["--local", "--persist-to", options.persistDir]),
  ]);

  const registration = { manifest, signature, key_id: options.key.keyId };
  let res = await postToEdge(options, "/api/admin/releases", registration);
  if (res === "connection_lost") {
    // The request may or may not have arrived: send it again, and take "already registered" as
    // done when the edge holds exactly this release.
    res = await postToEdge(options, "/api/admin/releases", registration);
    if (res !== "connection_lost" && res.status === 409 && (await holdsRelease(options, manifest))) {
      res = new Response(JSON.stringify({ version: options.version, manifest }), { status: 201 });
    }
  }
  if (res === "connection_lost") throw new Error(`the edge closed the connection twice while registering ${options.version}`);
  const registered: unknown = await res.json();
  if (res.status !== 201) throw new Error(`the edge refused release ${options.version} (${res.status}): ${JSON.stringify(registered)}`);
  writeFileSync(
    path.join(path.dirname(bundle), "release.json"),
    JSON.stringify({ manifest, signature, key_id: options.key.keyId }, null, 2),
  );
  const installers = options.installers?.length ? await publishInstallers(options, bundle, bytes) : [];
  return { version: options.version, manifest, signature, key_id: options.key.keyId, bundle, registered, installers };
}

/**
 * A POST to the edge's admin API. "connection_lost" when the socket closed before any answer:
 * fetch reuses kept-alive sockets, and one the server closed as idle at that very moment fails
 * this way (seen on a loaded machine, the release script running inside a test process).
 */
async function postToEdge(options: ReleaseOptions, route: string, body: unknown): Promise<Response | "connection_lost"> {
  try {
    return await fetch(`${options.server}${route}`, {
      method: "POST",
      headers: { authorization: `Bearer ${options.adminToken}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  } catch (error) {
    const code = (error as { cause?: { code?: string } }).cause?.code;
    if (code === "UND_ERR_SOCKET" || code === "ECONNRESET") return "connection_lost";
    throw error;
  }
}

/** Whether the edge holds this very release: same version, bundle digest and signing key. */
async function holdsRelease(options: ReleaseOptions, manifest: string): Promise<boolean> {
  const { version, sha256 } = JSON.parse(manifest) as { version: string; sha256: string };
  const res = await fetch(`${options.server}/api/admin/releases`, { headers: { authorization: `Bearer ${options.adminToken}` } });
  const listed = (await res.json()) as { items?: Array<{ version: string; sha256: string; key_id: string }> };
  return res.ok && (listed.items ?? []).some((r) => r.version === version && r.sha256 === sha256 && r.key_id === options.key.keyId);
}

/** Builds the installers around this release's bundle, uploads them to R2 and registers them. */
async function publishInstallers(options: ReleaseOptions, bundle: string, bytes: Buffer): Promise<BuiltInstaller[]> {
  const built = await buildInstallers({
    version: options.version,
    platforms: options.installers,
    server: options.server,
    agent: { version: options.version, file: bundle, size: bytes.byteLength, sha256: createHash("sha256").update(bytes).digest("hex") },
  });
  for (const installer of built) {
    wrangler([
      "r2",
      "object",
      "put",
      `buhdi-releases/installers/${options.version}/${installer.platform}`,
      "--file",
      installer.file,
      "--content-type",
      "application/octet-stream",
      ...(options.remote ? ["--remote"] : ["--local", "--persist-to", options.persistDir]),
    ]);
    const record = { version: options.version, platform: installer.platform, size: installer.size, sha256: installer.sha256 };
    // Registering an installer again replaces its record: safe to send twice.
    let res = await postToEdge(options, "/api/admin/installers", record);
    if (res === "connection_lost") res = await postToEdge(options, "/api/admin/installers", record);
    if (res === "connection_lost")
      throw new Error(`the edge closed the connection twice while registering the ${installer.platform} installer`);
    if (res.status !== 201) throw new Error(`the edge refused the ${installer.platform} installer (${res.status}): ${await res.text()}`);
  }
  return built;
}

function build(version: string): string {
  const out = spawnSync(NODE22, [path.join(REPO_ROOT, "scripts", "build-agent.ts"), version], { cwd: REPO_ROOT, encoding: "utf8" });
  if (out.status !== 0) throw new Error(`building the agent failed:\n${out.stderr}`);
  return path.join(REPO_ROOT, "dist", "agent", version, "buhdi-node.mjs");
}

/**
 * Runs a wrangler command. Every command here is an R2 put of a fixed key and content, so one that
 * failed with workerd's transient "Network connection lost" (seen with the local R2 on a busy
 * machine) is run again, at most twice; any other failure is final.
 */
function wrangler(args: string[]): void {
  for (let attempt = 1; ; attempt++) {
    const out = spawnSync(NODE22, [WRANGLER, ...args], { cwd: REPO_ROOT, encoding: "utf8", env: { ...process.env, CI: "true" } });
    if (out.status === 0) return;
    const output = `${out.stdout}\n${out.stderr}`;
    if (attempt < 3 && output.includes("Network connection lost")) continue;
    throw new Error(`wrangler ${args.slice(0, 3).join(" ")} failed:\n${output}`);
  }
}

function devVarsToken(): string {
  const match = readFileSync(path.join(REPO_ROOT, ".dev.vars"), "utf8").match(/^ADMIN_TOKEN\s*=\s*"?([^"\n]+)"?/m);
  if (!match?.[1]) throw new Error("no ADMIN_TOKEN in .dev.vars: run `npm start` once first");
  return match[1];
}

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      channel: { type: "string", default: "stable" },
      remote: { type: "boolean", default: false },
      key: { type: "string" },
      "expires-days": { type: "string", default: "90" },
      server: { type: "string" },
      platforms: { type: "string" },
      "no-installers": { type: "boolean", default: false },
    },
  });
  const version = VersionSchema.safeParse(positionals[0]);
  if (!version.success)
    throw new Error("usage: npm run release -- <version like 0.3.1> [--channel stable|beta] [--remote] [--key file.pem]");
  if (!CHANNELS.includes(values.channel as Channel)) throw new Error(`--channel must be one of ${CHANNELS.join(", ")}`);
  const keys = values.key ? [loadReleaseKey(values.key)] : localReleaseKeys();
  if (keys.length !== 1) throw new Error(`need exactly one key: pass --key, or keep one in ${KEYS_DIR} (npm run release:keygen makes one)`);
  const server = values.server ?? (values.remote ? process.env.BUHDI_EDGE_URL : `http://127.0.0.1:${process.env.PORT ?? 8787}`);
  const adminToken = values.remote ? process.env.BUHDI_ADMIN_TOKEN : devVarsToken();
  if (!server || !adminToken) throw new Error("--remote needs BUHDI_EDGE_URL and BUHDI_ADMIN_TOKEN in the environment");
  const released = await release({
    version: version.data,
    channel: values.channel as Channel,
    key: keys[0]!,
    server,
    adminToken,
    remote: values.remote,
    persistDir: path.join(REPO_ROOT, ".wrangler", "state"),
    expiresInDays: Number(values["expires-days"]),
    installers: values["no-installers"] ? [] : parsePlatforms(values.platforms),
  });
  console.log(`Released ${released.version} (${values.channel}), signed by key ${released.key_id}:`);
  console.log(JSON.stringify(released.registered, null, 2));
  for (const installer of released.installers) {
    console.log(
      `Installer ${installer.platform}: ${installer.size} bytes, sha256 ${installer.sha256}, ${installer.signed ? "signed" : "UNSIGNED"}${installer.notes.length ? ` (${installer.notes.join("; ")})` : ""}`,
    );
  }
}

function parsePlatforms(list: string | undefined): InstallerPlatform[] {
  if (!list) return [...INSTALLER_PLATFORMS];
  const platforms = list.split(",").map((p) => p.trim());
  for (const p of platforms) {
    if (!(INSTALLER_PLATFORMS as readonly string[]).includes(p))
      throw new Error(`--platforms: ${p} is not one of ${INSTALLER_PLATFORMS.join(", ")}`);
  }
  return platforms as InstallerPlatform[];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    console.error(`release failed: ${(error as Error).message}`);
    process.exit(1);
  });
}
