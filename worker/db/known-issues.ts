/** Known issues, as the admin API lists them (triage will read them too). */
import { asc } from "drizzle-orm";
import type { Database } from "./client.ts";
import { nodeKnownIssues } from "./schema.ts";

export async function listKnownIssues(db: Database) {
  return db.select().from(nodeKnownIssues).orderBy(asc(nodeKnownIssues.createdAt), asc(nodeKnownIssues.id));
}
