/** Where an archived telemetry event lives in the ARCHIVE bucket: one NDJSON object per node and UTC day. */
export function archiveKey(nodeId: string, createdAt: number): string {
  return `telemetry/${nodeId}/${new Date(createdAt).toISOString().slice(0, 10)}.ndjson`;
}
