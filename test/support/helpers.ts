/**
 * Shared test plumbing for the agent: temp homes, running the real CLI as a child process, and
 * small real HTTP/TCP servers (a port holder, a failing "cloud") for the failure paths.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { IncomingHttpHeaders, Server } from "node:http";
import { createServer as createTcpServer } from "node:net";
import type { AddressInfo, Socket } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { tempDir } from "./temp-dirs.ts";

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
export const NODE_BIN = path.join(REPO_ROOT, "node_modules", ".bin", "node");
export const CLI = path.join(REPO_ROOT, "agent", "cli.ts");

/** Removed after the test file (temp-dirs.ts). */
export async function tempHome(): Promise<string> {
  return tempDir("buhdi-node-test-");
}

/** An enrolled-looking home, for paths that never reach a real server. */
export async function fakeEnrolledHome(server: string): Promise<string> {
  const home = await tempHome();
  await mkdir(home, { recursive: true });
  await writeFile(path.join(home, "config.json"), JSON.stringify({ server, node_id: "8a0c6a56-52a3-4f39-9e9b-0b6c1c4f6f34" }));
  await writeFile(path.join(home, "node.key"), "bnk_test_key_that_no_server_knows\n", { mode: 0o600 });
  return home;
}

export type CliResult = { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string };

export function spawnCli(args: string[], env: Record<string, string>): ChildProcess {
  return spawn(NODE_BIN, [CLI, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

export function collect(child: ChildProcess, timeoutMs = 30_000): Promise<CliResult> {
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`buhdi-node did not exit within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

export function runCli(args: string[], env: Record<string, string>, timeoutMs?: number): Promise<CliResult> {
  return collect(spawnCli(args, env), timeoutMs);
}

/** Resolves once the child printed `text` on stdout; a failure shows its stderr too (why it died). */
export function waitForOutput(child: ChildProcess, text: string | RegExp, timeoutMs = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = "";
    let errors = "";
    const onError = (d: Buffer): void => {
      errors += d.toString();
    };
    child.stderr?.on("data", onError);
    const failed = (why: string) => {
      child.stderr?.off("data", onError);
      reject(new Error(`${why}; got: ${seen}${errors ? `; stderr: ${errors}` : ""}`));
    };
    const timer = setTimeout(() => failed(`no ${String(text)} within ${timeoutMs} ms`), timeoutMs);
    const onData = (d: Buffer): void => {
      seen += d.toString();
      const match = typeof text === "string" ? seen.includes(text) : text.test(seen);
      if (match) {
        clearTimeout(timer);
        child.stdout?.off("data", onData);
        child.stderr?.off("data", onError);
        resolve(seen);
      }
    };
    child.stdout?.on("data", onData);
    child.once("exit", () => {
      clearTimeout(timer);
      failed(`exited before printing ${String(text)}`);
    });
  });
}

/** A port some other process holds: the EADDRINUSE the zombie node caused. */
export async function holdPort(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  // The node's zombie probe connects here and gives up (a reset): the holder must not crash on it.
  const server = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => undefined);
    socket.on("close", () => sockets.delete(socket));
  });
  server.on("error", () => undefined);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const close = () =>
    new Promise<void>((resolve) => {
      // close() waits for open connections: end them, so a probe still open cannot hang the test.
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    });
  return { port, close };
}

/** A port nobody listens on (opened, then closed). */
export async function closedPortUrl(): Promise<string> {
  const held = await holdPort();
  await held.close();
  return `http://127.0.0.1:${held.port}`;
}

export type ReceivedRequest = { method: string; url: string; headers: IncomingHttpHeaders; body: string };
export type Reply = { status: number; body?: unknown; headers?: Record<string, string> };

/** A real HTTP server answering what a test scripts: for failure answers only. */
export async function startReceiver(reply: (request: ReceivedRequest, index: number) => Reply): Promise<{
  url: string;
  requests: ReceivedRequest[];
  close(): Promise<void>;
}> {
  const requests: ReceivedRequest[] = [];
  const server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString()));
    req.on("end", () => {
      const received = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body };
      requests.push(received);
      const answer = reply(received, requests.length - 1);
      const text = answer.body === undefined ? "" : typeof answer.body === "string" ? answer.body : JSON.stringify(answer.body);
      res.writeHead(answer.status, { "content-type": "application/json", ...answer.headers });
      res.end(text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function apiError(status: number, code: string, message: string): Reply {
  return { status, body: { error: { code, message } } };
}
