/**
 * One HTTP GET whose every wait ends: for the answer, for each chunk of the body, and for the
 * whole transfer. It exists because fetch() cannot promise that: on a corrupted gzip body its
 * reader.read() stays pending for ever, even after AbortController.abort(), so a timeout built
 * on abort never fires its effect. Here the limits settle the caller's promise themselves and
 * destroy the socket; nothing waits on the stream noticing.
 *   - the answer (status line and headers) must come within idleTimeoutMs;
 *   - then no idleTimeoutMs without a byte while the caller waits for one;
 *   - and everything within deadlineMs of the start (a server dribbling a byte a second is
 *     never idle, but it is not a download either);
 *   - `signal` (the command's own deadline) stops it the same way.
 * The body is passed on as it arrives, undecoded: the request asks for identity, and what the
 * caller hashes must be the bytes the server holds.
 */
import type * as Http from "node:http";
import type { IncomingHttpHeaders, IncomingMessage } from "node:http";
import type * as Https from "node:https";
import { createRequire } from "node:module";

// Required when a download starts, never imported: see ws-client.ts (an import of node:http
// loads undici's 6-10 MB, and in the one-file bundle would land in the supervisor too).
const loadBuiltin = createRequire(import.meta.url);

export type GetLimits = {
  /** No answer, or no byte of the body, for this long: given up. */
  idleTimeoutMs: number;
  /** The whole transfer, answer included, must be over within this. */
  deadlineMs: number;
  signal?: AbortSignal;
};

export type OpenedGet = {
  status: number;
  statusText: string;
  headers: IncomingHttpHeaders;
  /** The next chunk; null at the end of the body. Rejects with why it was stopped. */
  read(): Promise<Buffer | null>;
  /** Done with it (early or not): the socket is destroyed, every timer cleared. Idempotent. */
  close(): void;
};

export type GetOutcome = { ok: true; response: OpenedGet } | { ok: false; reason: string };

export function boundedGet(url: string, headers: Record<string, string>, limits: GetLimits): Promise<GetOutcome> {
  const target = new URL(url);
  const client = target.protocol === "https:" ? (loadBuiltin("node:https") as typeof Https) : (loadBuiltin("node:http") as typeof Http);
  const seconds = (ms: number): string => `${Number((ms / 1000).toFixed(1))} s`;

  return new Promise((resolveOpen) => {
    let failure: Error | null = null;
    let response: IncomingMessage | null = null;
    let ended = false;
    const queue: Buffer[] = [];
    let waiter: { resolve: (chunk: Buffer | null) => void; reject: (error: Error) => void } | null = null;
    let idleTimer: NodeJS.Timeout | null = null;

    const request = client.request(target, { method: "GET", headers, agent: false });

    const clearTimers = (): void => {
      clearTimeout(deadline);
      if (idleTimer) clearTimeout(idleTimer);
      idleTimer = null;
      limits.signal?.removeEventListener("abort", onAbort);
    };
    /** Every way of stopping ends here: the waiting promise is settled by us, then the socket goes. */
    const stop = (error: Error): void => {
      if (failure !== null) return;
      failure = error;
      clearTimers();
      if (response === null) resolveOpen({ ok: false, reason: error.message });
      const pending = waiter;
      waiter = null;
      pending?.reject(error);
      request.destroy();
      response?.destroy();
    };
    const armIdle = (why: string): void => {
      if (idleTimer) clearTimeout(idleTimer);
      idleTimer = setTimeout(() => stop(new Error(why)), limits.idleTimeoutMs);
    };
    const deadline = setTimeout(() => stop(new Error(`the download took longer than ${seconds(limits.deadlineMs)}`)), limits.deadlineMs);
    const onAbort = (): void => {
      const reason: unknown = limits.signal?.reason;
      stop(reason instanceof Error ? reason : new Error("the download was stopped"));
    };
    if (limits.signal?.aborted) {
      onAbort();
      return;
    }
    limits.signal?.addEventListener("abort", onAbort, { once: true });
    armIdle(`no answer within ${seconds(limits.idleTimeoutMs)}`);

    /** Hands a waiting read() what there is: a chunk, the end, or nothing yet. */
    const serve = (): void => {
      if (waiter === null) return;
      const pending = waiter;
      const chunk = queue.shift();
      if (chunk !== undefined) {
        waiter = null;
        pending.resolve(chunk);
      } else if (ended) {
        waiter = null;
        pending.resolve(null);
      }
    };

    request.on("error", (error: Error) => {
      const code = "code" in error && typeof error.code === "string" ? error.code : null;
      stop(new Error(code && !error.message.includes(code) ? `${code} (${error.message})` : error.message));
    });
    request.on("response", (res) => {
      if (failure !== null) {
        res.destroy();
        return;
      }
      response = res;
      if (idleTimer) clearTimeout(idleTimer);
      idleTimer = null;
      res.on("data", (chunk: Buffer) => {
        queue.push(chunk);
        // One chunk at a time: the caller writes it to disk before asking for the next.
        res.pause();
        if (idleTimer) clearTimeout(idleTimer);
        idleTimer = null;
        serve();
      });
      res.on("end", () => {
        ended = true;
        clearTimers();
        serve();
      });
      res.on("error", (error: Error) => stop(new Error(error.message === "aborted" ? "the connection closed mid-body" : error.message)));
      res.on("close", () => {
        if (!ended) stop(new Error("the connection closed mid-body"));
      });
      res.pause();

      const opened: OpenedGet = {
        status: res.statusCode ?? 0,
        statusText: res.statusMessage ?? "",
        headers: res.headers,
        read: () => {
          if (failure !== null) return Promise.reject(failure);
          const chunk = queue.shift();
          if (chunk !== undefined) return Promise.resolve(chunk);
          if (ended) return Promise.resolve(null);
          return new Promise<Buffer | null>((resolve, reject) => {
            waiter = { resolve, reject };
            armIdle(`no data for ${seconds(limits.idleTimeoutMs)}`);
            res.resume();
          });
        },
        close: () => {
          if (failure === null && !ended) stop(new Error("closed by the caller"));
          clearTimers();
          request.destroy();
          res.destroy();
        },
      };
      resolveOpen({ ok: true, response: opened });
    });
    request.end();
  });
}
