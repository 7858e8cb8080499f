/**
 * The real cloud for agent tests: one local edge (wrangler dev, fresh migrated D1) per test
 * file, and the admin calls a support person would make: create an owner, issue a code, read a
 * node's telemetry, its live status and its commands. `down()`/`up()` take the edge away and
 * bring it back on the same address with the same state (an outage, as a node sees one).
 */
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { startLocalEdge } from "../../scripts/local-edge.ts";
import type { LocalEdge } from "../../scripts/local-edge.ts";
import type { LocalEmail } from "../../scripts/local-email.ts";
import { runCli, tempHome } from "./helpers.ts";

export type TelemetryRow = {
  id: string;
  node_id: string;
  type: string;
  severity: string;
  resolved: boolean;
  node_version: string | null;
  created_at: string;
  payload: { event_id?: string; entries?: string[]; details?: Record<string, unknown>; [key: string]: unknown };
};

/** GET /api/nodes/:id: the registry row plus the node's live status. */
export type NodeView = {
  id: string;
  status: "online" | "offline" | "asleep" | "degraded" | "retired";
  connected: boolean;
  last_seen: string | null;
  version: string | null;
  uptime_s: number | null;
  memory_mb: number | null;
  error_count: number | null;
  ws_failure_count: number | null;
};

export type CommandView = {
  id: string;
  type: string;
  payload: unknown;
  send_count: number;
  ack: { status: string; detail: string | null; at: string } | null;
};

export type Edge = Omit<LocalEdge, "kill"> & {
  admin(pathname: string, body?: unknown): Promise<{ status: number; body: unknown }>;
  newCode(): Promise<string>;
  telemetryOf(nodeId: string): Promise<TelemetryRow[]>;
  nodeView(nodeId: string): Promise<NodeView>;
  commandsOf(nodeId: string): Promise<CommandView[]>;
  /** A home enrolled with `code`, or by default with a new code for "Kitchen Laptop" of this edge's one "Nana". */
  enrolledHome(env?: Record<string, string>, code?: string): Promise<{ home: string; nodeId: string }>;
  /** The edge goes away (its port is closed); state is kept for up(). */
  down(): Promise<void>;
  /** The same edge again: same address, admin token, vars and stored state. */
  up(): Promise<void>;
};

let owners = 0;

/** `onEmail`: each email the edge hands its local send_email binding (scripts/local-email.ts). */
export async function startEdge(options: { vars?: Record<string, string>; onEmail?: (email: LocalEmail) => void } = {}): Promise<Edge> {
  let current = await startLocalEdge({ vars: options.vars, onEmail: options.onEmail });
  const { url, adminToken, persistDir } = current;
  const admin = async (pathname: string, body?: unknown) => {
    const response = await fetch(`${url}${pathname}`, {
      method: body === undefined ? "GET" : "POST",
      headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
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
  const nodeView = async (nodeId: string) => {
    const view = await admin(`/api/nodes/${nodeId}`);
    if (view.status !== 200) throw new Error(`node status: ${view.status} ${JSON.stringify(view.body)}`);
    return view.body as NodeView;
  };
  const commandsOf = async (nodeId: string) => {
    const list = await admin(`/api/admin/nodes/${nodeId}/commands`);
    if (list.status !== 200) throw new Error(`list commands: ${list.status} ${JSON.stringify(list.body)}`);
    return (list.body as { items: CommandView[] }).items;
  };
  /** A home enrolled through the real CLI, as an owner would do it. */
  const enrolledHome = async (env: Record<string, string> = {}, code?: string) => {
    const home = await tempHome();
    const result = await runCli(["enroll", code ?? (await newCode()), "--server", url], { BUHDI_NODE_HOME: home, ...env });
    if (result.code !== 0) throw new Error(`enroll failed: ${result.stderr}`);
    const config = JSON.parse(await readFile(path.join(home, "config.json"), "utf8")) as { node_id: string };
    return { home, nodeId: config.node_id };
  };
  let running = true;
  /** An up() still starting: stop() waits for it, so a test that timed out leaves no edge behind. */
  let starting: Promise<LocalEdge> | null = null;
  const down = async () => {
    running = false;
    await current.stop();
  };
  const up = async () => {
    starting = startLocalEdge({ port: Number(new URL(url).port), persistDir, adminToken, vars: options.vars, onEmail: options.onEmail });
    try {
      current = await starting;
      running = true;
    } finally {
      starting = null;
    }
  };
  const stop = async () => {
    // up() awaited it first, so by now it has made the started edge current and running.
    await starting?.catch(() => undefined);
    if (running) await current.stop();
    running = false;
  };
  return { url, adminToken, persistDir, stop, admin, newCode, telemetryOf, nodeView, commandsOf, enrolledHome, down, up };
}

/** Points an enrolled home at another server (an outage), returning a function that undoes it. */
export async function pointAt(home: string, server: string): Promise<() => Promise<void>> {
  const file = path.join(home, "config.json");
  const original = await readFile(file, "utf8");
  const config = JSON.parse(original) as { server: string; node_id: string };
  await writeFile(file, JSON.stringify({ ...config, server }));
  return () => writeFile(file, original);
}
