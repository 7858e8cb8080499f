/**
 * A local edge's HTTP API as the end-to-end tests call it: the admin API with the edge's token,
 * a node enrolled the way an owner's agent does it (a code from the admin API, traded at
 * /api/enroll), and crash reports sent with that node's key, each accepted.
 */
import { randomUUID } from "node:crypto";
import { expect } from "vitest";
import type { LocalEdge } from "../../scripts/local-edge.ts";

type EdgeAddress = Pick<LocalEdge, "url" | "adminToken">;

/** GET without a body, POST with one; the parsed JSON answer. */
export async function adminCall(edge: EdgeAddress, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${edge.url}${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { authorization: `Bearer ${edge.adminToken}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return (await res.json()) as Record<string, unknown>;
}

/** A new owner "Nana" and one node of hers, enrolled through the API. */
export async function enrollThroughApi(
  edge: EdgeAddress,
  node: { name: string; os: string; ownerEmail?: string },
): Promise<{ node_id: string; node_key: string }> {
  const owner = await adminCall(edge, "/api/admin/owners", { email: node.ownerEmail ?? `e2e-${randomUUID()}@example.com`, name: "Nana" });
  const { code } = await adminCall(edge, "/api/admin/enrollments", { owner_id: owner.owner_id, node_name: node.name });
  const res = await fetch(`${edge.url}/api/enroll`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ code, os: node.os, arch: "x64", version: "0.3.0" }),
  });
  expect(res.status).toBe(201);
  return (await res.json()) as { node_id: string; node_key: string };
}

/** One crash report of a node on 0.3.0, with a new event id; the edge must accept it (202). */
export async function reportCrash(edge: EdgeAddress, nodeKey: string, entries: readonly string[], os: string): Promise<void> {
  const res = await fetch(`${edge.url}/api/node/telemetry`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-node-key": nodeKey },
    body: JSON.stringify({
      event_id: randomUUID(),
      type: "crash_report",
      entries,
      node_version: "0.3.0",
      os,
      arch: "x64",
      uptime_before_crash: null,
      timestamp: new Date().toISOString(),
    }),
  });
  expect(res.status).toBe(202);
}
