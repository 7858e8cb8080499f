/** What ingest puts on the triage Queue for each critical event. */
export type TriageMessage = {
  telemetry_id: string;
  node_id: string;
  type: string;
};
