/**
 * The local edge without `wrangler dev`'s proxy in front: Miniflare (workerd) serving the bundle
 * `wrangler deploy` would upload, with the bindings wrangler.toml declares and state on disk where
 * `wrangler dev --persist-to` keeps it.
 *
 * Why: `wrangler dev` listens with a proxy Worker of its own (a second workerd, one Durable Object
 * that every request passes through) and holds each request there while the real Worker starts.
 * Through an edge restart a reconnecting fleet piles up in that queue, handshakes the nodes have
 * long given up on included, and all of it is let through at once when the Worker is up. No
 * Cloudflare location does that; here a node is refused until the edge serves, as it would be.
 *
 * Started by local-edge.ts (option `direct`): node scripts/edge-server.ts '<ServerOptions as JSON>'.
 */
import path from "node:path";
import { Log, LogLevel, Miniflare, convertV4MiniflareOptions } from "miniflare";
import { unstable_getMiniflareWorkerOptions, unstable_readConfig } from "wrangler";

export type ServerOptions = {
  config: string;
  /** The Worker as built by `wrangler deploy --dry-run --outdir`. */
  script: string;
  port: number;
  persistDir: string;
  vars: Record<string, string>;
  logLevel: "info" | "warn";
  /** If set, a Tail Worker POSTs one line per invocation of the Worker here (see INVOCATION_TAIL). */
  invocationSink?: string;
};

/**
 * A Tail Worker that reports each invocation of the edge's Worker and its Durable Objects as the
 * runtime traces them: what woke it (fetch, alarm, a WebSocket message, ...), the class, and how
 * many log lines it wrote. The benchmark counts wakes and log lines per node-hour with it.
 */
const INVOCATION_TAIL = `export default {
  async tail(items, env) {
    const lines = items.map((item) => {
      const event = item.event ?? {};
      const kind = "getWebSocketEvent" in event ? "websocket_" + event.getWebSocketEvent.webSocketEventType
        : "request" in event ? "fetch" : "cron" in event ? "scheduled" : "queue" in event ? "queue"
        : "scheduledTime" in event ? "alarm" : Object.keys(event)[0] ?? "unknown";
      const path = "request" in event ? new URL(event.request.url).pathname : null;
      return JSON.stringify({ kind, entrypoint: item.entrypoint ?? null, path, logs: item.logs.length });
    });
    await fetch(env.SINK, { method: "POST", body: lines.join("\\n") });
  },
};`;

const options = JSON.parse(process.argv[2] ?? "") as ServerOptions;
const config = unstable_readConfig({ config: options.config });
// modulesRules: the bundle is one module already (and the v4 → v5 conversion refuses them).
const { modulesRules: _, ...workerOptions } = unstable_getMiniflareWorkerOptions(config).workerOptions;
// wrangler.toml's [vars] (all strings here), then this run's own.
const bindings = { ...(workerOptions.bindings as Record<string, string> | undefined), ...options.vars };

const miniflare = new Miniflare(
  convertV4MiniflareOptions({
    host: "127.0.0.1",
    port: options.port,
    resourcePersistencePath: `${options.persistDir}/v3`,
    // Serves /cdn-cgi/local/scheduled?cron=…: local crons never fire by themselves.
    unsafeTriggerHandlers: true,
    log: new Log(options.logLevel === "info" ? LogLevel.INFO : LogLevel.WARN),
    // No network here: request.cf is the runtime's placeholder instead of one fetched from Cloudflare.
    cf: false,
    workers: [
      {
        ...workerOptions,
        name: config.name,
        bindings,
        modules: true,
        scriptPath: options.script,
        // Module names are relative to this; the bundle sits in a temp dir of its own.
        modulesRoot: path.dirname(options.script),
        ...(options.invocationSink ? { tails: ["invocation-tail"] } : {}),
      },
      ...(options.invocationSink
        ? [{ name: "invocation-tail", modules: true, script: INVOCATION_TAIL, bindings: { SINK: options.invocationSink } }]
        : []),
    ],
  }),
);
const url = await miniflare.ready;
console.log(`Ready on ${url.href}`);

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, () => void miniflare.dispose().finally(() => process.exit(0)));
}
