/**
 * SQL on an edge's local D1 from outside the Worker, through `wrangler d1 execute --local`
 * on the repo's Node 22 (the same tool `npm start` documents). Only used while no wrangler dev
 * holds the same persist dir, so the two never write the SQLite file at once.
 */
import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { REPO_ROOT } from "../scripts/local-edge.ts";

const NODE22 = path.join(REPO_ROOT, "node_modules", ".bin", "node");
const WRANGLER = path.join(REPO_ROOT, "node_modules", "wrangler", "bin", "wrangler.js");

/** Runs the statements of a SQL file (triggers included: wrangler splits them correctly). */
export async function d1ExecuteFile(persistDir: string, sql: string): Promise<void> {
  const file = path.join(persistDir, "bench.sql");
  await writeFile(file, sql);
  await wrangler(["--file", file, "--yes"], persistDir);
}

/** The rows of one query. */
export async function d1Query<T>(persistDir: string, sql: string): Promise<T[]> {
  const out = await wrangler(["--command", sql, "--json"], persistDir);
  const parsed = JSON.parse(out) as { results: T[] }[];
  return parsed.flatMap((result) => result.results);
}

function wrangler(args: string[], persistDir: string): Promise<string> {
  const argv = [WRANGLER, "d1", "execute", "DB", "--local", "--persist-to", persistDir, ...args];
  return new Promise((resolve, reject) => {
    execFile(
      NODE22,
      argv,
      {
        cwd: REPO_ROOT,
        timeout: 60_000,
        maxBuffer: 64 * 1024 * 1024,
        env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true" },
      },
      (error, stdout, stderr) =>
        error ? reject(new Error(`wrangler d1 execute failed: ${error.message}\n${stderr.slice(-2000)}`)) : resolve(stdout),
    );
  });
}
