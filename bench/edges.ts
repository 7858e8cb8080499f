/**
 * Every local edge (wrangler dev) the benchmark starts goes through here, so that each one is
 * stopped and its temp state removed however the run ends: when its part is done, when a part
 * throws, or on Ctrl-C (the edges run in process groups of their own, which Ctrl-C does not reach).
 */
import { rm } from "node:fs/promises";
import { startLocalEdge, type LocalEdge, type LocalEdgeOptions } from "../scripts/local-edge.ts";

const running = new Set<LocalEdge>();
/** Extra clean-ups (agent processes) that must also run on Ctrl-C. */
const cleanups = new Set<() => Promise<void>>();

/** Starts an edge; its persist dir belongs to the benchmark and is removed when it stops. */
export async function startEdge(options: LocalEdgeOptions = {}): Promise<LocalEdge> {
  const edge = await startLocalEdge(options);
  running.add(edge);
  return edge;
}

/** Starts several edges at once (startup is not measured); stops those that started if one fails. */
export async function startEdges(options: LocalEdgeOptions[]): Promise<LocalEdge[]> {
  const started = await Promise.allSettled(options.map((o) => startEdge(o)));
  const failed = started.find((outcome) => outcome.status === "rejected");
  if (!failed) return started.map((outcome) => (outcome as PromiseFulfilledResult<LocalEdge>).value);
  await Promise.allSettled(started.map((o) => (o.status === "fulfilled" ? stopEdge(o.value) : undefined)));
  throw failed.reason;
}

/** Stops an edge and removes its state, unless keepState (then the caller removes edge.persistDir). */
export async function stopEdge(edge: LocalEdge, options: { keepState?: boolean } = {}): Promise<void> {
  if (!running.delete(edge)) return;
  await edge.stop();
  if (!options.keepState) await rm(edge.persistDir, { recursive: true, force: true });
}

/** Registers a clean-up to run by stopEverything; returns a function that unregisters it. */
export function onStop(cleanup: () => Promise<void>): () => void {
  cleanups.add(cleanup);
  return () => cleanups.delete(cleanup);
}

/** Runs the clean-ups and stops every edge still running (safe to call again: each is done once). */
export async function stopEverything(): Promise<void> {
  const pending = [...cleanups];
  cleanups.clear();
  await Promise.allSettled([...pending.map((c) => c()), ...[...running].map((edge) => stopEdge(edge))]);
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    console.error(`\n${signal}: stopping the local edges and agents`);
    void stopEverything().then(() => process.exit(130));
  });
}
