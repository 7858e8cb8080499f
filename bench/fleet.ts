/**
 * The benchmark's fleet: enrolls nodes on the local edge through the real admin and
 * enrollment API. NodeKeyPool hands out their keys round-robin so that no node goes over the
 * per-node rate limit (60 requests per 60 s), without which the ingest benchmark would measure
 * 429s; enrollFleet enrolls a fixed number of nodes for the WebSocket benchmarks.
 */
import type { LocalEdge } from "../scripts/local-edge.ts";

/**
 * Lifetime requests per node. Below the limit of 60 per window, whatever windows the
 * run straddles, so a node's budget never depends on wall-clock timing.
 */
export const REQUESTS_PER_NODE = 50;

export class NodeKeyPool {
  readonly #edge: LocalEdge;
  readonly #ownerId: string;
  readonly #keys: string[] = [];
  readonly #uses: number[] = [];
  #cursor = 0;
  #named = 0;
  /** Requests handed a key that had already used its budget (they will likely be 429s). */
  overBudget = 0;

  private constructor(edge: LocalEdge, ownerId: string) {
    this.#edge = edge;
    this.#ownerId = ownerId;
  }

  /** A pool for one owner, with no nodes yet. */
  static async create(edge: LocalEdge): Promise<NodeKeyPool> {
    return new NodeKeyPool(edge, await createOwner(edge));
  }

  get size(): number {
    return this.#keys.length;
  }

  /** The owner every node of the pool belongs to. */
  get ownerId(): string {
    return this.#ownerId;
  }

  /** Every enrolled key so far, in enrollment order. */
  keys(): readonly string[] {
    return this.#keys;
  }

  /** Requests the pool can still serve without any node going over its budget. */
  get remaining(): number {
    return this.#uses.reduce((sum, used) => sum + Math.max(0, REQUESTS_PER_NODE - used), 0);
  }

  /** Enrolls nodes until `requests` more requests fit in the budget. */
  async ensureRoomFor(requests: number, concurrency = 16): Promise<void> {
    const missing = Math.ceil(Math.max(0, requests - this.remaining) / REQUESTS_PER_NODE);
    let next = 0;
    const worker = async () => {
      while (next < missing) {
        next++;
        const { key } = await enrollNode(this.#edge, this.#ownerId, `bench-node-${this.#named++}`);
        this.#keys.push(key);
        this.#uses.push(0);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, missing) }, worker));
  }

  /** The next node's key, round-robin over nodes with budget left. */
  next(): string {
    const n = this.#keys.length;
    if (n === 0) throw new Error("the node pool is empty; call ensureRoomFor first");
    for (let tried = 0; tried < n; tried++) {
      const i = this.#cursor++ % n;
      if (this.#uses[i]! < REQUESTS_PER_NODE) {
        this.#uses[i]!++;
        return this.#keys[i]!;
      }
    }
    this.overBudget++;
    return this.#keys[this.#cursor++ % n]!;
  }

  /** Any enrolled key, without spending budget (for targets that do not check keys). */
  anyKey(i: number): string {
    return this.#keys[i % this.#keys.length]!;
  }
}

export type EnrolledNode = { nodeId: string; key: string };

let owners = 0;

/** A new owner for a fleet of benchmark nodes. */
export async function createOwner(edge: LocalEdge): Promise<string> {
  const owner = await call<{ owner_id: string }>(edge, "/api/admin/owners", {
    email: `bench-${Date.now()}-${owners++}@example.com`,
    name: "Benchmark fleet",
  });
  return owner.owner_id;
}

/** A one-time enrollment code from the admin API. */
export async function createCode(edge: LocalEdge, ownerId: string, nodeName: string): Promise<string> {
  const { code } = await call<{ code: string }>(edge, "/api/admin/enrollments", { owner_id: ownerId, node_name: nodeName });
  return code;
}

/** One node, as an owner would enroll it: a code from the admin API, traded for a key. */
export async function enrollNode(edge: LocalEdge, ownerId: string, nodeName: string): Promise<EnrolledNode> {
  const code = await createCode(edge, ownerId, nodeName);
  const { node_id, node_key } = await call<{ node_id: string; node_key: string }>(
    edge,
    "/api/enroll",
    { code, os: "win32", arch: "x64", version: "0.3.0" },
    false,
  );
  return { nodeId: node_id, key: node_key };
}

/** `count` nodes of one new owner, enrolled `concurrency` at a time, in order of their names. */
export async function enrollFleet(edge: LocalEdge, count: number, concurrency: number): Promise<EnrolledNode[]> {
  const ownerId = await createOwner(edge);
  const nodes: EnrolledNode[] = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      nodes[i] = await enrollNode(edge, ownerId, `bench-ws-node-${i}`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return nodes;
}

async function call<T>(edge: LocalEdge, path: string, body: unknown, admin = true): Promise<T> {
  const res = await fetch(`${edge.url}${path}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(admin ? { authorization: `Bearer ${edge.adminToken}` } : {}),
    },
    body: JSON.stringify(body),
  });
  if (res.status !== 201) throw new Error(`POST ${path} answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as T;
}
