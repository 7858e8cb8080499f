/**
 * Starts the naive ingest baseline (bench/naive) on a local D1 of its own holding the same
 * owner and nodes (same ids, same key hashes) as the real edge's key pool, so that autocannon
 * can send both the very same requests with the same node keys.
 *
 * The nodes are copied as SQL rows rather than enrolled through an API because the naive Worker
 * has none: its D1 is migrated with the repo's migrations and seeded before its edge starts
 * (d1-local.ts: never while an edge holds the same persist dir). It runs on Miniflare directly,
 * as the real edge it is compared with does.
 */
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { type LocalEdge, migrateLocalD1, REPO_ROOT } from "../scripts/local-edge.ts";
import { d1ExecuteFile } from "./d1-local.ts";
import { startEdges } from "./edges.ts";
import type { NodeKeyPool } from "./fleet.ts";

const NAIVE_CONFIG = path.join(REPO_ROOT, "bench", "naive", "wrangler.toml");

export async function startNaiveEdge(pool: NodeKeyPool): Promise<LocalEdge> {
  const persistDir = await mkdtemp(path.join(tmpdir(), "buhdi-bench-naive-"));
  try {
    await migrateLocalD1(persistDir, false);
    await d1ExecuteFile(persistDir, seedSql(pool));
    const [edge] = await startEdges([{ config: NAIVE_CONFIG, persistDir, direct: true }]);
    return edge!;
  } catch (error) {
    await rm(persistDir, { recursive: true, force: true });
    throw error;
  }
}

/** The pool's owner and nodes as rows; a node key is bnk.<node id>.<secret> and the row keeps sha256(secret). */
function seedSql(pool: NodeKeyPool): string {
  const owner = pool.ownerId;
  const rows = pool.keys().map((key, i) => {
    const [, id, secret] = key.split(".");
    const hash = createHash("sha256").update(secret!).digest("hex");
    return `(${q(id!)}, ${q(owner)}, ${q(`bench-node-${i}`)}, ${q(hash)}, 'win32', 'x64', '0.3.0')`;
  });
  return [
    `INSERT INTO owners (id, email, name, dashboard_token_hash) VALUES (${q(owner)}, 'naive-bench@example.com', 'Benchmark fleet', ${q("0".repeat(64))});`,
    `INSERT INTO nodes (id, owner_id, name, key_hash, os, arch, version) VALUES\n${rows.join(",\n")};`,
  ].join("\n");
}

function q(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}
