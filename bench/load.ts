/**
 * One load run against one target, through autocannon's Node API (in-process), reduced to
 * the figures the benchmark reports. Both targets go through here with the same settings,
 * so the load generator is never the difference between them.
 */
import autocannon from "autocannon";

export type LoadTarget = {
  /** Origin, e.g. http://127.0.0.1:8787. */
  url: string;
  path: string;
  /** Headers and body of the next request; called once per request. */
  next(): { headers: Record<string, string>; body: string };
};

export type LoadSettings = { connections: number; durationSeconds: number };

export type LoadResult = {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  completed: number;
  durationSeconds: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** Count per HTTP status answered. */
  statusCodes: Record<string, number>;
};

export async function runLoad(target: LoadTarget, settings: LoadSettings): Promise<LoadResult> {
  const result = await autocannon({
    url: target.url,
    connections: settings.connections,
    duration: settings.durationSeconds,
    pipelining: 1,
    timeout: 10,
    requests: [
      {
        method: "POST",
        path: target.path,
        setupRequest: (request) => {
          const { headers, body } = target.next();
          return { ...request, headers: { ...request.headers, ...headers }, body };
        },
      },
    ],
  });
  const statusCodes = Object.fromEntries(Object.entries(result.statusCodeStats).map(([code, { count }]) => [code, count]));
  return {
    // Completed requests over the run's real length (autocannon's per-second average drops the last partial second).
    requestsPerSecond: result.requests.total / result.duration,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    completed: result.requests.total,
    durationSeconds: result.duration,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCodes,
  };
}
