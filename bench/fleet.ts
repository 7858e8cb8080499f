/**
 * The benchmark's fleet: enrolls nodes on the local edge through the real admin and
 * enrollment API, and hands out their keys round-robin so that no node goes over the
 * per-node rate limit (60 requests per 60 s). Without it the benchmark would measure 429s.
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
    const owner = await call<{ owner_id: string }>(edge, "/api/admin/owners", {
      email: `bench-${Date.now()}@example.com`,
      name: "Benchmark fleet",
    });
    return new NodeKeyPool(edge, owner.owner_id);
  }

  get size(): number {
    return this.#keys.length;
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
        const key = await this.#enroll(`bench-node-${this.#named++}`);
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

  async #enroll(nodeName: string): Promise<string> {
    const { code } = await call<{ code: string }>(this.#edge, "/api/admin/enrollments", {
      owner_id: this.#ownerId,
      node_name: nodeName,
    });
    const { node_key } = await call<{ node_key: string }>(
      this.#edge,
      "/api/enroll",
      { code, os: "win32", arch: "x64", version: "0.3.0" },
      false,
    );
    return node_key;
  }
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
