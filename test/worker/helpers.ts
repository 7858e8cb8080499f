/** Test helpers that talk to the Worker over HTTP, the way nodes and admins do. */
import { env, exports } from "cloudflare:workers";
import { expect } from "vitest";
import type { TelemetryEventInput } from "../../protocol/telemetry.ts";

export const BASE = "https://edge.test";

export function call(path: string, init: RequestInit = {}): Promise<Response> {
  return exports.default.fetch(new Request(`${BASE}${path}`, init));
}

export function adminHeaders(extra: Record<string, string> = {}): Record<string, string> {
  return { authorization: `Bearer ${env.ADMIN_TOKEN}`, "content-type": "application/json", ...extra };
}

export async function adminPost(path: string, body: unknown): Promise<Response> {
  return call(path, { method: "POST", headers: adminHeaders(), body: JSON.stringify(body) });
}

let ownerCounter = 0;

export async function createOwner(name = "Nana"): Promise<{ owner_id: string; dashboard_token: string }> {
  const res = await adminPost("/api/admin/owners", { email: `owner${++ownerCounter}-${crypto.randomUUID()}@example.com`, name });
  expect(res.status).toBe(201);
  return res.json();
}

export async function enrollmentCodeFor(ownerId: string, nodeName = "Kitchen Laptop"): Promise<string> {
  const res = await adminPost("/api/admin/enrollments", { owner_id: ownerId, node_name: nodeName });
  expect(res.status).toBe(201);
  const body = await res.json<{ code: string }>();
  return body.code;
}

export type EnrolledNode = { node_id: string; node_key: string; owner_id: string; dashboard_token: string };

export async function enrollNode(owner?: { owner_id: string; dashboard_token: string }): Promise<EnrolledNode> {
  const o = owner ?? (await createOwner());
  const code = await enrollmentCodeFor(o.owner_id);
  const res = await call("/api/enroll", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ code, os: "win32", arch: "x64", version: "0.3.0" }),
  });
  expect(res.status).toBe(201);
  const body = await res.json<{ node_id: string; node_key: string }>();
  return { ...body, owner_id: o.owner_id, dashboard_token: o.dashboard_token };
}

export function crashReport(overrides: Partial<TelemetryEventInput> = {}): TelemetryEventInput {
  return {
    event_id: crypto.randomUUID(),
    type: "crash_report",
    entries: [
      "[2026-11-28T10:00:00.000Z] UNCAUGHT: Error: listen EADDRINUSE: address already in use 127.0.0.1:9847",
      "    at Server.setupListenHandle [as _listen2] (node:net:1908:16)",
      "EXIT code=1",
    ],
    node_version: "0.3.0",
    os: "win32",
    arch: "x64",
    uptime_before_crash: null,
    timestamp: new Date().toISOString(),
    ...overrides,
  };
}

export function postTelemetry(nodeKey: string | null, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return call("/api/node/telemetry", {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(nodeKey === null ? {} : { "x-node-key": nodeKey }),
      ...headers,
    },
    body: typeof body === "string" || body instanceof ReadableStream ? body : JSON.stringify(body),
  });
}

export async function telemetryRowCount(): Promise<number> {
  const row = await env.DB.prepare("SELECT count(*) AS n FROM node_telemetry").first<{ n: number }>();
  return row?.n ?? 0;
}

const SAME_ORIGIN = { origin: BASE, "sec-fetch-site": "same-origin" };

/** A signed-in owner's session cookie ("name=value"), through the one-time sign-in link. */
export async function ownerSessionCookie(ownerId: string): Promise<string> {
  const link = await (await adminPost(`/api/admin/owners/${ownerId}/sign-in-link`, {})).json<{ url: string }>();
  const res = await call(new URL(link.url).pathname, { method: "POST", headers: SAME_ORIGIN, redirect: "manual" });
  expect(res.status).toBe(303);
  return (res.headers.get("set-cookie") ?? "").split(";")[0]!;
}

/** IT Support's session cookie, signed in with the admin token. */
export async function supportSessionCookie(): Promise<string> {
  const res = await call("/auth/support", {
    method: "POST",
    headers: { ...SAME_ORIGIN, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ admin_token: env.ADMIN_TOKEN }).toString(),
    redirect: "manual",
  });
  expect(res.status).toBe(303);
  return (res.headers.get("set-cookie") ?? "").split(";")[0]!;
}
