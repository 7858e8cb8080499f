/**
 * The soak's fault proxy against a real HTTP and WebSocket server: with faults off it is a plain
 * pipe; with faults on, each fault does to the client what its name says, is counted, and the
 * edge's own answers are told apart from the injected ones. The random source is fixed per test
 * so each fault is drawn on purpose.
 */
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket, { WebSocketServer } from "ws";
import { type FaultProxy, startFaultProxy } from "../../../scripts/soak/fault-proxy.ts";

let server: Server;
let target: string;
let handled = 0;
/** The chance every draw of the proxy sees (see the tables in fault-proxy.ts). */
let draw = 0.99;
let proxy: FaultProxy;

beforeAll(async () => {
  server = createServer((req, res) => {
    handled += 1;
    if (req.url === "/fail") return void res.writeHead(500).end("edge failure");
    res.writeHead(200, { "content-type": "text/plain" }).end("x".repeat(4_000));
  });
  new WebSocketServer({ server }).on("connection", (ws) => ws.on("message", (m) => ws.send(m)));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  target = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy = await startFaultProxy(target, () => draw);
});

afterAll(async () => {
  await proxy.close();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** One request on a connection of its own (no keep-alive), so each one draws its own fault. */
function get(pathname: string): Promise<{ status: number; body: string; retryAfter?: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = request(`${proxy.url}${pathname}`, { agent: false, timeout: 10_000 }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body, retryAfter: res.headers["retry-after"] }));
      res.on("error", (e) => resolve({ error: e.message }));
    });
    req.on("error", (e) => resolve({ error: (e as NodeJS.ErrnoException).code ?? e.message }));
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.end();
  });
}

describe("the soak's fault proxy", () => {
  it("passes requests through untouched while faults are off, and records the edge's own status", async () => {
    proxy.faultsOn(false);
    const answer = await get("/fail");
    expect(answer).toEqual({ status: 500, body: "edge failure", retryAfter: undefined });
    expect(proxy.edgeAnswers.at(-1)?.status).toBe(500);
    expect(Object.values(proxy.injected).every((n) => n === 0)).toBe(true);
  });

  it("a reset never reaches the edge", async () => {
    proxy.faultsOn(true);
    draw = 0.01;
    const before = handled;
    expect(await get("/")).toEqual({ error: "ECONNRESET" });
    expect(handled).toBe(before);
    expect(proxy.injected.reset).toBe(1);
  });

  it("a burst answers 502/503/429 itself, without asking the edge, and says when to come back", async () => {
    proxy.faultsOn(true);
    draw = 0.16; // a burst of 502s
    const before = handled;
    const answers = [await get("/"), await get("/")];
    for (const answer of answers) expect(answer).toMatchObject({ status: 502 });
    expect(handled).toBe(before);
    expect(proxy.injected.status_502).toBe(2);
    expect(proxy.edgeAnswers.some((a) => a.status === 502)).toBe(false);
    proxy.faultsOn(false); // ends the burst
  });

  it("a truncated answer comes after the edge acted on the request", async () => {
    proxy.faultsOn(true);
    draw = 0.2;
    const before = handled;
    const answer = await get("/");
    expect("error" in answer || answer.body.length < 4_000).toBe(true);
    expect(handled).toBe(before + 1);
    expect(proxy.injected.truncated_answer).toBe(1);
  });

  it("a stalled body arrives whole, late", async () => {
    proxy.faultsOn(true);
    draw = 0.25;
    const started = Date.now();
    const answer = await get("/");
    expect(answer).toMatchObject({ status: 200, body: "x".repeat(4_000) });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
    expect(proxy.injected.stalled_body).toBe(1);
  });

  it("drops a WebSocket without a close frame: the client sees 1006", async () => {
    proxy.faultsOn(true);
    draw = 0.2;
    const ws = new WebSocket(`${proxy.url.replace("http", "ws")}/`);
    const echoed = new Promise<string>((resolve) => ws.once("message", (m: Buffer) => resolve(m.toString())));
    ws.once("open", () => ws.send("hello"));
    expect(await echoed).toBe("hello");
    const code = await new Promise<number>((resolve) => ws.once("close", resolve));
    expect(code).toBe(1006);
    expect(proxy.injected.ws_close_1006).toBe(1);
  });
});
