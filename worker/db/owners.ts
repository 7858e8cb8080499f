/** Owners: created by admins, authenticated by their dashboard token. */
import { eq } from "drizzle-orm";
import type { Database } from "./client.ts";
import { owners } from "./schema.ts";

export type NewOwner = { id: string; email: string; name: string; dashboardTokenHash: string };

/** Inserts the owner; false when the email is already taken. */
export async function insertOwner(db: Database, owner: NewOwner): Promise<boolean> {
  const rows = await db
    .insert(owners)
    .values({ ...owner, createdAt: new Date() })
    .onConflictDoNothing({ target: owners.email })
    .returning({ id: owners.id });
  return rows.length === 1;
}

export async function findOwner(db: Database, id: string) {
  return db.query.owners.findFirst({ where: eq(owners.id, id) });
}
