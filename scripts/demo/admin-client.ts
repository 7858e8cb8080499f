/**
 * What IT Support sees, through the edge's own HTTP API with the admin token: the calls the
 * demo (and its end-to-end test) use to check each step from the outside.
 */
export type TelemetryItem = {
  id: string;
  type: string;
  severity: string;
  resolved: boolean;
  node_version: string | null;
  /** When the edge received it. */
  created_at: string;
  /** timestamp: when the node says it happened. */
  payload: { entries?: string[]; details?: Record<string, unknown>; timestamp?: string };
};
export type NodeItem = { id: string; name: string; status: string; connected: boolean; version: string | null };
export type CommandItem = {
  id: string;
  type: string;
  payload: { manifest?: string };
  first_sent_at: string | null;
  last_sent_at: string | null;
  ack: { status: string; detail: string | null; at: string } | null;
};
export type ReleaseItem = {
  version: string;
  status: string;
  halted_reason: string | null;
  rollout_percent: number;
  installs: number;
  rollbacks: number;
};
export type CrashGroupItem = { id: string; title: string; state: string; report_count: number; known_issue_id: string | null };
export type TicketItem = { id: string; crash_group_id: string; title: string; report_count: number };
export type ResolutionItem = {
  telemetry_id: string;
  crash_group_id: string;
  action: string;
  fix_version: string | null;
  state: string;
  created_at: string;
  verified_at: string | null;
};
export type EnrollmentAnswer = {
  code: string;
  expires_at: string;
  setup_url: string;
  email?: { status: "queued"; id: string; to: string[] } | { status: "not_sent"; reason: string };
};
export type BridgeItem = { id: string; telemetry_id: string; text: string; status: string };

export type AdminClient = ReturnType<typeof adminClient>;

export function adminClient(url: string, token: string) {
  const call = async <T>(pathname: string, body?: unknown): Promise<T> => {
    const response = await fetch(`${url}${pathname}`, {
      method: body === undefined ? "GET" : "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${body === undefined ? "GET" : "POST"} ${pathname}: ${response.status} ${text}`);
    return JSON.parse(text) as T;
  };
  const items = async <T>(pathname: string) => (await call<{ items: T[] }>(pathname)).items;
  return {
    call,
    createOwner: (email: string, name: string) => call<{ owner_id: string; dashboard_token: string }>("/api/admin/owners", { email, name }),
    /** With sendEmail, the edge emails the owner their invitation (when it has a sender). */
    enrollmentCode: (ownerId: string, nodeName: string, options: { sendEmail?: boolean } = {}) =>
      call<EnrollmentAnswer>("/api/admin/enrollments", {
        owner_id: ownerId,
        node_name: nodeName,
        ...(options.sendEmail && { send_email: true }),
      }),
    telemetry: (nodeId: string) => items<TelemetryItem>(`/api/node/telemetry?node_id=${nodeId}&limit=200`),
    node: (nodeId: string) => call<NodeItem>(`/api/nodes/${nodeId}`),
    commands: (nodeId: string) => items<CommandItem>(`/api/admin/nodes/${nodeId}/commands`),
    releases: () => items<ReleaseItem>("/api/admin/releases"),
    push: (version: string, nodeIds: string[]) =>
      call<{ pushed_to: string[] }>(`/api/admin/releases/${version}/push`, { node_ids: nodeIds }),
    crashGroups: () => items<CrashGroupItem>("/api/support/crash-groups?limit=200"),
    tickets: () => items<TicketItem>("/api/support/tickets?limit=200"),
    resolutions: (nodeId: string) => items<ResolutionItem>(`/api/support/resolutions?node_id=${nodeId}&limit=200`),
    bridge: () => items<BridgeItem>("/api/support/bridge?limit=200"),
  };
}
