/**
 * Binding the node's local endpoint to its port, with the fix for the zombie (fixed in
 * 0.3.1). A node program left over from an earlier run (its supervisor gone, the process hung)
 * kept 127.0.0.1:9847, and every new program died of EADDRINUSE, over and over. Now, when the
 * port is taken:
 *   - endpoint.json (every program writes it once it listens) names the pid that holds the port;
 *   - that pid is a leftover of this node if it is alive, is not us, is a buhdi-node node
 *     program (its command line, where the OS shows one: /proc on Linux; elsewhere the record
 *     is trusted), and does not answer GET /health within HEALTH_PROBE_MS: a program that
 *     answers is alive and well, and killing it would start a fight between two supervisors;
 *   - a leftover is killed (SIGKILL: it is hung, it gets no say) and the port tried again
 *     until CLAIM_WAIT_MS;
 *   - anything else holding the port is not ours to take: the error stands, the program dies of
 *     it like before, and its crash report tells the cloud, which then escalates to a person.
 * scripts/demo builds 0.3.0 with this file swapped for its old version (a plain listen), so
 * the demo's 0.3.0 carries the bug and 0.3.1 (these sources) the fix.
 */
import { readFile } from "node:fs/promises";
import type { Server } from "node:http";
import { readEndpoint } from "./endpoint-record.ts";

const HEALTH_PROBE_MS = 1_000;
const CLAIM_WAIT_MS = 5_000;
const RETRY_EVERY_MS = 100;

export type LocalListen = {
  port: number;
  host: string;
  /** endpoint.json of this node's home. */
  endpointFile: string;
  log: (message: string) => void;
};

/** Listens, claiming the port from a leftover of this node; any other listen error is thrown uncaught. */
export function listenLocal(server: Server, options: LocalListen): void {
  let deadline: number | null = null;
  const fail = (error: Error): void => {
    // Uncaught on purpose (see node-program.ts): crash capture records it and the program dies.
    process.nextTick(() => {
      throw error;
    });
  };
  const onError = (error: NodeJS.ErrnoException): void => {
    if (error.code !== "EADDRINUSE") {
      fail(error);
      return;
    }
    if (deadline !== null) {
      // Still held right after the leftover was killed: the kernel lets go of it shortly.
      if (Date.now() < deadline) setTimeout(() => server.listen(options.port, options.host), RETRY_EVERY_MS);
      else fail(error);
      return;
    }
    void leftoverHolding(options).then(
      (pid) => {
        if (pid === null) return fail(error);
        options.log(`127.0.0.1:${options.port} is held by pid ${pid}, a hung buhdi-node left over from an earlier run; stopping it`);
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // gone by itself meanwhile: the retry below finds the port free
        }
        deadline = Date.now() + CLAIM_WAIT_MS;
        setTimeout(() => server.listen(options.port, options.host), RETRY_EVERY_MS);
      },
      () => fail(error),
    );
  };
  server.on("error", onError);
  // Errors after listening are not claims; they stay uncaught as before.
  server.once("listening", () => server.off("error", onError));
  server.listen(options.port, options.host);
}

/** The pid of a hung node program of this same node that holds the port, or null. */
async function leftoverHolding(options: LocalListen): Promise<number | null> {
  const record = await readEndpoint(options.endpointFile);
  if (record === null || record.port !== options.port || record.pid === process.pid) return null;
  try {
    process.kill(record.pid, 0);
  } catch {
    return null; // gone (ESRCH), or someone else's process (EPERM)
  }
  if (!(await isNodeProgram(record.pid))) return null;
  return (await answersHealth(options.host, options.port)) ? null : record.pid;
}

async function isNodeProgram(pid: number): Promise<boolean> {
  let cmdline: string;
  try {
    cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8");
  } catch {
    return process.platform !== "linux"; // no /proc to ask: the record is all there is
  }
  const args = cmdline.split("\0").filter((arg) => arg !== "");
  return args.at(-1) === "node" && args.some((arg) => /(buhdi-node\.mjs|cli\.ts)$/.test(arg));
}

async function answersHealth(host: string, port: number): Promise<boolean> {
  try {
    const response = await fetch(`http://${host}:${port}/health`, { signal: AbortSignal.timeout(HEALTH_PROBE_MS) });
    await response.body?.cancel();
    return true;
  } catch {
    return false;
  }
}
