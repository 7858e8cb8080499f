/**
 * Keyset pagination, newest first, over (created_at, id): stable under inserts
 * and ties, and each page costs one indexed range read. Lists fetch limit + 1
 * rows so the extra one says whether a next page exists, without a COUNT.
 */
import { and, eq, lt, or, type SQL } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";

export type PageCursor = { createdAt: number; id: string };

export function afterCursor(createdAt: SQLiteColumn, id: SQLiteColumn, cursor: PageCursor): SQL {
  const at = new Date(cursor.createdAt);
  return or(lt(createdAt, at), and(eq(createdAt, at), lt(id, cursor.id)))!;
}

export function pageOf<R extends { createdAt: Date; id: string }>(rows: R[], limit: number): { rows: R[]; next: PageCursor | null } {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return { rows: page, next: rows.length > limit && last ? { createdAt: last.createdAt.getTime(), id: last.id } : null };
}
