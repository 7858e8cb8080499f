/**
 * The real cloud for agent tests: one local edge (wrangler dev, fresh migrated D1) per test
 * file, and the admin calls a support person would make: create an owner, issue a code, read a
 * node's telemetry.
 */
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { startLocalEdge } from "../../scripts/local-edge.ts";
import type { LocalEdge } from "../../scripts/local-edge.ts";
import { runCli, tempHome } from "./helpers.ts";

export type TelemetryRow = {
  id: string;
  node_id: string;
  type: string;
  severity: string;
  resolved: boolean;
  node_version: string | null;
  created_at: string;
  payload: { event_id?: string; entries?: string[]; [key: string]: unknown };
};

export type Edge = LocalEdge & {
  admin(pathname: string, body?: unknown): Promise<{ status: number; body: unknown }>;
  newCode(): Promise<string>;
  telemetryOf(nodeId: string): Promise<TelemetryRow[]>;
  enrolledHome(env?: Record<string, string>): Promise<{ home: string; nodeId: string }>;
};

let owners = 0;

export async function startEdge(): Promise<Edge> {
  const edge = await startLocalEdge();
  const admin = async (pathname: string, body?: unknown) => {
    const response = await fetch(`${edge.url}${pathname}`, {
      method: body === undefined ? "GET" : "POST",
      headers: { authorization: `Bearer ${edge.adminToken}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as unknown };
  };
  let ownerId: string | null = null;
  const newCode = async () => {
    if (ownerId === null) {
      owners += 1;
      const owner = await admin("/api/admin/owners", { email: `nana${owners}@example.com`, name: "Nana" });
      if (owner.status !== 201) throw new Error(`create owner: ${owner.status} ${JSON.stringify(owner.body)}`);
      ownerId = (owner.body as { owner_id: string }).owner_id;
    }
    const enrollment = await admin("/api/admin/enrollments", { owner_id: ownerId, node_name: "Kitchen Laptop" });
    if (enrollment.status !== 201) throw new Error(`create code: ${enrollment.status} ${JSON.stringify(enrollment.body)}`);
    return (enrollment.body as { code: string }).code;
  };
  const telemetryOf = async (nodeId: string) => {
    const page = await admin(`/api/node/telemetry?node_id=${nodeId}`);
    if (page.status !== 200) throw new Error(`list telemetry: ${page.status} ${JSON.stringify(page.body)}`);
    return (page.body as { items: TelemetryRow[] }).items;
  };
  /** A home enrolled through the real CLI, as an owner would do it. */
  const enrolledHome = async (env: Record<string, string> = {}) => {
    const home = await tempHome();
    const result = await runCli(["enroll", await newCode(), "--server", edge.url], { BUHDI_NODE_HOME: home, ...env });
    if (result.code !== 0) throw new Error(`enroll failed: ${result.stderr}`);
    const config = JSON.parse(await readFile(path.join(home, "config.json"), "utf8")) as { node_id: string };
    return { home, nodeId: config.node_id };
  };
  return Object.assign(edge, { admin, newCode, telemetryOf, enrolledHome });
}

/** Points an enrolled home at another server (an outage), returning a function that undoes it. */
export async function pointAt(home: string, server: string): Promise<() => Promise<void>> {
  const file = path.join(home, "config.json");
  const original = await readFile(file, "utf8");
  const config = JSON.parse(original) as { server: string; node_id: string };
  await writeFile(file, JSON.stringify({ ...config, server }));
  return () => writeFile(file, original);
}
