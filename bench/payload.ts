/**
 * What the benchmark sends: realistic crash reports as the agent POSTs them (3-10 crash.log
 * lines, a fresh event_id each time so every request is a new report, not the dedupe path),
 * and the heartbeat frame a node sends on its socket. Each target and its baseline get their
 * bytes from here, so the baseline always carries the same bytes as the real thing.
 */
import { NODE_KEY_HEADER } from "../protocol/headers.ts";
import type { NodeFrame } from "../protocol/messages.ts";
import type { TelemetryEventInput } from "../protocol/telemetry.ts";

export const TELEMETRY_PATH = "/api/node/telemetry";

/** Crash logs of the kind the field sends, as crash-capture writes them (3-10 lines each). */
const CRASHES: readonly (readonly string[])[] = [
  [
    "[{at}] UNCAUGHT: Error: listen EADDRINUSE: address already in use 127.0.0.1:9847",
    "    at Server.setupListenHandle [as _listen2] (node:net:1908:16)",
    "    at listenInCluster (node:net:1965:12)",
    "    at doListen (node:net:2139:7)",
    "    at process.processTicksAndRejections (node:internal/process/task_queues:83:21)",
    "EXIT code=1",
  ],
  [
    "[{at}] UNHANDLED_REJECTION: Error: EPERM: operation not permitted, rename 'C:\\ProgramData\\Buhdi\\config.json.tmp' -> 'C:\\ProgramData\\Buhdi\\config.json'",
    "    at async Object.rename (node:internal/fs/promises:782:10)",
    "    at async writeFileAtomic (C:\\Program Files\\Buhdi\\agent\\atomic-file.js:41:5)",
    "    at async saveConfig (C:\\Program Files\\Buhdi\\agent\\config.js:88:3)",
    "    at async main (C:\\Program Files\\Buhdi\\agent\\index.js:57:7)",
    "EXIT code=1",
  ],
  [
    "[{at}] UNCAUGHT: TypeError: Cannot read properties of undefined (reading 'status')",
    "    at handleResponse (C:\\Program Files\\Buhdi\\agent\\telemetry-client.js:112:24)",
    "    at TelemetryClient.send (C:\\Program Files\\Buhdi\\agent\\telemetry-client.js:74:18)",
    "    at async Delivery.flush (C:\\Program Files\\Buhdi\\agent\\delivery.js:63:9)",
    "    at async Timeout._onTimeout (C:\\Program Files\\Buhdi\\agent\\index.js:131:5)",
    "    at async listOnTimeout (node:internal/timers:588:17)",
    "    at async process.processTimers (node:internal/timers:523:7)",
    "EXIT code=1",
  ],
  [
    "[{at}] UNCAUGHT: RangeError: Maximum call stack size exceeded",
    "    at JSON.stringify (<anonymous>)",
    "    at scrub (C:\\Program Files\\Buhdi\\agent\\scrub.js:22:17)",
    "    at scrub (C:\\Program Files\\Buhdi\\agent\\scrub.js:31:14)",
    "    at scrub (C:\\Program Files\\Buhdi\\agent\\scrub.js:31:14)",
    "    at scrub (C:\\Program Files\\Buhdi\\agent\\scrub.js:31:14)",
    "    at scrub (C:\\Program Files\\Buhdi\\agent\\scrub.js:31:14)",
    "    at scrub (C:\\Program Files\\Buhdi\\agent\\scrub.js:31:14)",
    "    at scrub (C:\\Program Files\\Buhdi\\agent\\scrub.js:31:14)",
    "EXIT code=7",
  ],
  [
    "[{at}] UNHANDLED_REJECTION: Error: getaddrinfo ENOTFOUND fleet.buhdi.example",
    "    at GetAddrInfoReqWrap.onlookupall [as oncomplete] (node:dns:120:26)",
    "EXIT code=1",
  ],
];

const PLATFORMS = [
  { os: "win32", arch: "x64" },
  { os: "win32", arch: "arm64" },
  { os: "darwin", arch: "arm64" },
  { os: "linux", arch: "x64" },
] as const;

let sequence = 0;

/** A new crash report (3-10 lines) as the JSON text a node would POST. */
export function crashReportBody(): string {
  const n = sequence++;
  const at = new Date();
  const crash = CRASHES[n % CRASHES.length]!;
  const platform = PLATFORMS[n % PLATFORMS.length]!;
  const lines = crash.map((line) => line.replace("{at}", at.toISOString()));
  const event: TelemetryEventInput = {
    event_id: crypto.randomUUID(),
    type: "crash_report",
    entries: lines,
    node_version: "0.3.0",
    os: platform.os,
    arch: platform.arch,
    uptime_before_crash: n % 3 === 0 ? null : 60 + (n % 86_400),
    timestamp: at.toISOString(),
  };
  return JSON.stringify(event);
}

/**
 * The non-critical reports a node sends (warning and info: connection_degraded, error, health),
 * in turn. Unlike a crash report none of them goes on the triage queue, so the figure measures
 * ingest alone; crashReportBody's figure also carries triage running in the same workerd.
 */
export function nonCriticalBody(): string {
  const n = sequence++;
  const at = new Date();
  const platform = PLATFORMS[n % PLATFORMS.length]!;
  const common = {
    event_id: crypto.randomUUID(),
    node_version: "0.3.0",
    os: platform.os,
    arch: platform.arch,
    timestamp: at.toISOString(),
  };
  const events: TelemetryEventInput[] = [
    { ...common, type: "connection_degraded", details: { failure_count: 5 + (n % 7), last_error: "ECONNRESET" } },
    {
      ...common,
      type: "error",
      entries: [`[${at.toISOString()}] ERROR: config refresh failed: getaddrinfo EAI_AGAIN fleet.buhdi.example`],
      details: { component: "config", retry_in_s: 60 },
    },
    { ...common, type: "health", details: { memory_mb: 48.5, cpu_pct: n % 40, disk_free_mb: 20_480, pending_reports: 0 } },
  ];
  return JSON.stringify(events[n % events.length]);
}

/** The headers of one telemetry POST from the node holding this key. */
export function telemetryHeaders(nodeKey: string): Record<string, string> {
  return { "content-type": "application/json", [NODE_KEY_HEADER]: nodeKey };
}

/** The heartbeat frame of one node, as JSON text (the extended heartbeat). */
export function heartbeatFrame(nodeId: string): string {
  const frame: NodeFrame = {
    type: "heartbeat",
    node_id: nodeId,
    version: "0.3.0",
    uptime: 3_600_000,
    connection_state: "connected",
    ws_failure_count: 0,
    last_task_at: null,
    memory_mb: 48.5,
    error_count: 0,
  };
  return JSON.stringify(frame);
}
