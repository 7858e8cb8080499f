/**
 * The supervisor idles next to every node program for the computer's whole uptime, so its
 * start-up must stay light: no zod, no protocol schemas, no HTTP or WebSocket stack. The rule
 * is checked on what esbuild sees, following only the imports that run at start-up (static
 * ones) from the CLI and the supervisor it imports when `run` is chosen. Lazy `import()`s, such
 * as the rollback path, are allowed to be heavy.
 */
import path from "node:path";
import { build } from "esbuild";
import type { Metafile } from "esbuild";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../support/helpers.ts";

const HEAVY = [
  { what: "zod", test: (input: string) => input.includes("node_modules/zod/") },
  { what: "the protocol's schemas", test: (input: string) => input.startsWith("protocol/") },
  { what: "the ws package", test: (input: string) => input.includes("node_modules/ws/") },
];
const HEAVY_BUILTINS = new Set(["http", "https", "node:http", "node:https", "undici", "node:net", "net", "tls", "node:tls"]);

async function startUpGraph(): Promise<{ inputs: Set<string>; builtins: Map<string, string> }> {
  const entries = ["agent/cli.ts", "agent/supervisor/supervisor.ts"];
  const result = await build({
    entryPoints: entries.map((entry) => path.join(REPO_ROOT, entry)),
    absWorkingDir: REPO_ROOT,
    bundle: true,
    platform: "node",
    format: "esm",
    splitting: true,
    outdir: path.join(REPO_ROOT, ".tmp", "supervisor-weight"),
    write: false,
    metafile: true,
    logLevel: "silent",
  });
  const meta: Metafile = result.metafile;
  const inputs = new Set<string>();
  const builtins = new Map<string, string>();
  const todo = [...entries];
  while (todo.length > 0) {
    const file = todo.pop()!;
    if (inputs.has(file)) continue;
    inputs.add(file);
    for (const edge of meta.inputs[file]?.imports ?? []) {
      if (edge.kind !== "import-statement" && edge.kind !== "require-call") continue;
      if (edge.external) builtins.set(edge.path, file);
      else todo.push(edge.path);
    }
  }
  return { inputs, builtins };
}

describe("the supervisor's start-up", () => {
  it("loads no zod, no protocol schemas and no ws package, from the CLI through the supervisor", async () => {
    const { inputs } = await startUpGraph();
    expect(inputs.has("agent/supervisor/supervisor.ts")).toBe(true);
    for (const heavy of HEAVY) {
      expect([...inputs].filter(heavy.test), `${heavy.what} is imported at the supervisor's start-up`).toEqual([]);
    }
  });

  it("loads no HTTP, TLS or socket module of Node's at start-up", async () => {
    const { builtins } = await startUpGraph();
    const loaded = [...builtins].filter(([name]) => HEAVY_BUILTINS.has(name)).map(([name, by]) => `${name} (imported by ${by})`);
    expect(loaded).toEqual([]);
  });

  it("would notice a heavy import: the node program's start-up does load zod", async () => {
    // The control: the same walk from the node program finds what the supervisor must not have.
    const result = await build({
      entryPoints: [path.join(REPO_ROOT, "agent/program/run.ts")],
      absWorkingDir: REPO_ROOT,
      bundle: true,
      platform: "node",
      format: "esm",
      write: false,
      metafile: true,
      logLevel: "silent",
    });
    expect(Object.keys(result.metafile.inputs).some((input) => input.includes("node_modules/zod/"))).toBe(true);
  });
});
