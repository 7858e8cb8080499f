/** Enrolled nodes (the node registry). */
import { and, desc, eq, inArray, type SQL } from "drizzle-orm";
import type { Database } from "./client.ts";
import { afterCursor, type PageCursor, pageOf } from "./page.ts";
import { nodes } from "./schema.ts";

export async function findNode(db: Database, id: string) {
  return db.query.nodes.findFirst({ where: eq(nodes.id, id) });
}

/** The nodes among these ids (at most 100: D1's limit of bound parameters per query). */
export async function findNodesById(db: Database, ids: readonly string[]) {
  return ids.length === 0
    ? []
    : db
        .select()
        .from(nodes)
        .where(inArray(nodes.id, [...ids]));
}

export async function listNodes(db: Database, query: { ownerId: string | null; limit: number; after?: PageCursor }) {
  const conditions: SQL[] = [];
  if (query.ownerId) conditions.push(eq(nodes.ownerId, query.ownerId));
  if (query.after) conditions.push(afterCursor(nodes.createdAt, nodes.id, query.after));
  const rows = await db
    .select()
    .from(nodes)
    .where(and(...conditions))
    .orderBy(desc(nodes.createdAt), desc(nodes.id))
    .limit(query.limit + 1);
  return pageOf(rows, query.limit);
}
