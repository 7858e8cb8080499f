/**
 * `npm run build:agent -- <version> [--out dir]`: the agent as one release file. esbuild bundles
 * agent/cli.ts (platform node, ESM, zod and ws included, Node built-ins left as imports) into
 * <out>/<version>/buhdi-node.mjs, with the version baked in through `define` so the bundle
 * reports it (agent/core/version.ts) whatever its environment says. Prints the path, size and
 * sha256 the release manifest needs, and checks that the bundle runs (`--version`).
 * Default out: dist/agent. Importable (buildAgent) so tests build real bundles the same way.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs, promisify } from "node:util";
import { build, type Plugin } from "esbuild";
import { VersionSchema } from "../protocol/index.ts";
import { BUNDLE_VERSION_DEFINE } from "../agent/core/version.ts";
import { messageOf } from "../agent/core/errors.ts";

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const BUNDLE_NAME = "buhdi-node.mjs";

/** Named so that nothing bundled can collide with it; `require` itself is what esbuild's shim looks for. */
const REQUIRE_BANNER =
  'import { createRequire as __bundleCreateRequire } from "node:module";\nconst require = __bundleCreateRequire(import.meta.url);';

export type BuiltAgent = { version: string; file: string; size: number; sha256: string };

export type BuildAgentOptions = {
  version: string;
  /** Default dist/agent; the bundle goes to <outDir>/<version>/buhdi-node.mjs. */
  outDir?: string;
  /** Another entry point (tests: a release that dies on start). Default agent/cli.ts. */
  entry?: string;
  /**
   * Modules swapped at build time, absolute path → absolute path: a fixture release that is
   * today's agent with one file at an older version (the demo's 0.3.0 carries the port bug).
   */
  replace?: Record<string, string>;
};

export async function buildAgent(options: BuildAgentOptions): Promise<BuiltAgent> {
  const version = VersionSchema.parse(options.version);
  const outDir = path.resolve(options.outDir ?? path.join(REPO_ROOT, "dist", "agent"));
  const file = path.join(outDir, version, BUNDLE_NAME);
  await mkdir(path.dirname(file), { recursive: true });
  const result = await build({
    entryPoints: [options.entry ?? path.join(REPO_ROOT, "agent", "cli.ts")],
    outfile: file,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    // Readable stack traces in crash reports beat a smaller file: names kept, nothing minified.
    keepNames: true,
    legalComments: "none",
    define: { [BUNDLE_VERSION_DEFINE]: JSON.stringify(version) },
    // ws is CommonJS: its require("http") and the like need a require() in this ESM file. They
    // still run only when ws is first loaded (the node program's first connect), never at start.
    banner: { js: REQUIRE_BANNER },
    plugins: [zodEnglishOnly(), wsWithoutNativeAddons(), ...(options.replace ? [replaceModules(options.replace)] : [])],
    logLevel: "silent",
  });
  if (result.errors.length > 0) throw new Error(result.errors.map((e) => e.text).join("\n"));
  const bytes = await readFile(file);
  return { version, file, size: bytes.length, sha256: createHash("sha256").update(bytes).digest("hex") };
}

/**
 * zod's `locales` namespace (every language's error messages, 400 KB of the bundle) is exported
 * but never used: zod registers English itself. Bundling only English saves about 1 MB of memory
 * in every agent process (bench/agent-idle.ts).
 */
function zodEnglishOnly(): Plugin {
  return {
    name: "zod-english-only",
    setup(build) {
      build.onResolve({ filter: /\/locales\/index\.js$/ }, (args) =>
        args.importer.includes(`${path.sep}zod${path.sep}`)
          ? { path: "zod-locales", namespace: "zod-english-only", pluginData: args.resolveDir }
          : undefined,
      );
      build.onLoad({ filter: /.*/, namespace: "zod-english-only" }, (args) => ({
        contents: 'export { default as en } from "../locales/en.js";',
        resolveDir: args.pluginData as string,
        loader: "js",
      }));
    },
  };
}

/**
 * ws tries require("bufferutil") and require("utf-8-validate"), optional native speed-ups, in a
 * try/catch. Left as they are, the bundle would look for them at run time in any node_modules
 * above wherever it is installed, and load code that is not part of the signed release. Here they
 * resolve to a module that throws, so ws takes its own JavaScript path, as it does without them.
 */
function wsWithoutNativeAddons(): Plugin {
  return {
    name: "ws-without-native-addons",
    setup(build) {
      build.onResolve({ filter: /^(bufferutil|utf-8-validate)$/ }, (args) => ({ path: args.path, namespace: "ws-without-native-addons" }));
      build.onLoad({ filter: /.*/, namespace: "ws-without-native-addons" }, (args) => ({
        contents: `throw new Error(${JSON.stringify(`${args.path} is not part of the agent bundle`)});`,
        loader: "js",
      }));
    },
  };
}

function replaceModules(replace: Record<string, string>): Plugin {
  const swaps = new Map(Object.entries(replace).map(([from, to]) => [path.resolve(from), path.resolve(to)]));
  const unused = new Set(swaps.keys());
  return {
    name: "replace-modules",
    setup(build) {
      build.onResolve({ filter: /^\./ }, (args) => {
        const resolved = path.resolve(args.resolveDir, args.path);
        const swap = swaps.get(resolved);
        if (swap === undefined) return undefined;
        unused.delete(resolved);
        return { path: swap };
      });
      // A swap that matched nothing would build a "fixture" that is just today's agent.
      build.onEnd((result) => {
        if (result.errors.length === 0 && unused.size > 0) throw new Error(`replace: nothing imports ${[...unused].join(", ")}`);
      });
    },
  };
}

/** Runs `node <bundle> --version` and returns what it printed. */
export async function bundleVersion(file: string): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, [file, "--version"], { timeout: 20_000 });
  return stdout.trim();
}

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { out: { type: "string" } } });
  const [version, ...extra] = positionals;
  if (version === undefined || extra.length > 0) {
    process.stderr.write("Usage: npm run build:agent -- <version> [--out dir]\n");
    process.exitCode = 2;
    return;
  }
  const built = await buildAgent({ version, outDir: values.out });
  const reported = await bundleVersion(built.file);
  if (reported !== built.version) throw new Error(`the bundle says it is ${reported}, not ${built.version}`);
  process.stdout.write(`${built.file}\nversion ${built.version}\nsize    ${built.size}\nsha256  ${built.sha256}\n`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`build-agent: ${messageOf(error)}\n`);
    process.exitCode = 1;
  });
}
