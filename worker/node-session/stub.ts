/** The NodeSession of a node, addressed by its id (one object per node, forever). */
import type { Env } from "../env.ts";

export function nodeSession(env: Env, nodeId: string) {
  return env.NODE_SESSION.get(env.NODE_SESSION.idFromName(nodeId));
}
