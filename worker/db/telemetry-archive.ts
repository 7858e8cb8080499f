/** The archiver's D1 side: the oldest rows not archived yet, and marking rows archived. */
export type ArchivableRow = {
  id: string;
  nodeId: string;
  ownerId: string;
  eventId: string;
  type: string;
  severity: string;
  resolved: number;
  nodeVersion: string | null;
  createdAt: number;
  payload: string;
};

/** Oldest first, so a run cut short by its budget leaves the newest for the next one. */
export async function unarchivedBefore(d1: D1Database, cutoff: number, limit: number): Promise<ArchivableRow[]> {
  const { results } = await d1
    .prepare(
      `SELECT id, node_id AS nodeId, owner_id AS ownerId, event_id AS eventId, type, severity, resolved,
              node_version AS nodeVersion, created_at AS createdAt, payload
       FROM node_telemetry WHERE archived_at IS NULL AND created_at < ? ORDER BY created_at LIMIT ?`,
    )
    .bind(cutoff, limit)
    .all<ArchivableRow>();
  return results;
}

/** One D1 batch: each row's payload becomes its summary. A row archived meanwhile is left as it is. */
export async function markArchived(d1: D1Database, rows: readonly { id: string; summary: string }[], now: number): Promise<void> {
  if (rows.length === 0) return;
  const update = d1.prepare("UPDATE node_telemetry SET payload = ?, archived_at = ? WHERE id = ? AND archived_at IS NULL");
  await d1.batch(rows.map((r) => update.bind(r.summary, now, r.id)));
}
