/** Enrolled nodes (the node registry). */
import { and, desc, eq, type SQL } from "drizzle-orm";
import type { Database } from "./client.ts";
import { afterCursor, type PageCursor, pageOf } from "./page.ts";
import { nodes } from "./schema.ts";

export async function findNode(db: Database, id: string) {
  return db.query.nodes.findFirst({ where: eq(nodes.id, id) });
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
