/** Enrolled nodes (the spec's node_registry). */
import { eq } from "drizzle-orm";
import type { Database } from "./client.ts";
import { nodes } from "./schema.ts";

export async function findNode(db: Database, id: string) {
  return db.query.nodes.findFirst({ where: eq(nodes.id, id) });
}
