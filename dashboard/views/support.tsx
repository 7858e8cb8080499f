/** @jsxImportSource hono/jsx */
/** IT Support's views: the fleet table, the bridge inbox, known issues, releases. */
import type { Child } from "hono/jsx";
import { Page, Time } from "./layout.tsx";

export type FleetRow = {
  id: string;
  name: string;
  owner: string;
  status: string;
  version: string | null;
  lastSeen: string | null;
  uptimeS: number | null;
  memoryMb: number | null;
  errorCount: number | null;
  failureCount: number | null;
};

export type FleetParams = { q: string; status: string; sort: string; dir: "asc" | "desc"; page: number; perPage: number };

function fleetHref(params: FleetParams, change: Partial<FleetParams>, base = "/support"): string {
  const merged = { ...params, ...change };
  const search = new URLSearchParams();
  if (merged.q) search.set("q", merged.q);
  if (merged.status) search.set("status", merged.status);
  search.set("sort", merged.sort);
  search.set("dir", merged.dir);
  search.set("page", String(merged.page));
  return `${base}?${search}`;
}

function uptime(seconds: number | null): string {
  if (seconds === null) return "—";
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h`;
  return `${Math.floor(seconds / 86400)} d`;
}

const COLUMNS: Array<[string, string | null]> = [
  ["Name", "name"],
  ["Owner", "owner"],
  ["Status", "status"],
  ["Version", "version"],
  ["Last seen", "last_seen"],
  ["Uptime", null],
  ["Memory", null],
  ["Errors", null],
  ["Link failures", null],
];

export function FleetTable(props: { rows: FleetRow[]; total: number; params: FleetParams }) {
  const { params } = props;
  const pages = Math.max(1, Math.ceil(props.total / params.perPage));
  return (
    <div>
      <p aria-live="polite">
        {props.total} computers, page {params.page} of {pages}
      </p>
      <table>
        <thead>
          <tr>
            {COLUMNS.map(([label, key]) => {
              if (!key) return <th scope="col">{label}</th>;
              const active = params.sort === key;
              const dir = active && params.dir === "asc" ? "desc" : "asc";
              return (
                <th scope="col" aria-sort={active ? (params.dir === "asc" ? "ascending" : "descending") : undefined}>
                  <a href={fleetHref(params, { sort: key, dir, page: 1 })}>{label}</a>
                </th>
              );
            })}
          </tr>
        </thead>
        <tbody>
          {props.rows.map((row) => (
            <tr data-node-id={row.id}>
              <th scope="row">
                <a href={`/support/nodes/${row.id}`}>{row.name}</a>
              </th>
              <td>{row.owner}</td>
              <td class={`status-${row.status}`} data-testid="status">
                {row.status}
              </td>
              <td>{row.version ?? "—"}</td>
              <td>{row.lastSeen ? <Time at={row.lastSeen} withDate /> : "never"}</td>
              <td>{uptime(row.uptimeS)}</td>
              <td>{row.memoryMb === null ? "—" : `${row.memoryMb} MB`}</td>
              <td>{row.errorCount ?? "—"}</td>
              <td>{row.failureCount ?? "—"}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <nav aria-label="Pages" class="pager">
        {params.page > 1 && <a href={fleetHref(params, { page: params.page - 1 })}>Previous page</a>}
        {params.page < pages && <a href={fleetHref(params, { page: params.page + 1 })}>Next page</a>}
      </nav>
    </div>
  );
}

export function FleetPage(props: { rows: FleetRow[]; total: number; params: FleetParams }) {
  const { params } = props;
  return (
    <Page title="Fleet" nav="support" current="/support">
      <h1>Fleet</h1>
      <form method="get" action="/support" class="filters" role="search">
        <label for="q">Name or owner</label>
        <input id="q" name="q" type="search" value={params.q} maxlength={100} />
        <label for="status">Status</label>
        <select id="status" name="status">
          {["", "online", "degraded", "asleep", "offline", "retired"].map((s) => (
            <option value={s} selected={params.status === s}>
              {s === "" ? "any" : s}
            </option>
          ))}
        </select>
        <input type="hidden" name="sort" value={params.sort} />
        <input type="hidden" name="dir" value={params.dir} />
        <button type="submit">Filter</button>
      </form>
      <div id="fleet" data-refresh={fleetHref(params, {}, "/support/fleet")} data-every="5">
        <FleetTable rows={props.rows} total={props.total} params={params} />
      </div>
    </Page>
  );
}

/** A form app.js sends to the JSON API (same origin, with the session cookie) and whose answer it shows. */
export function ApiForm(props: { method: "POST" | "PATCH"; path: string; label: string; result?: string; children?: Child }) {
  return (
    <form class="api-form" data-api-method={props.method} data-api-path={props.path} data-result={props.result ?? "reload"}>
      {props.children}
      <button type="submit">{props.label}</button>
      <output role="status"></output>
    </form>
  );
}

export type BridgeItem = { id: string; text: string; status: string; createdAt: Date };

export function BridgePage(props: { items: BridgeItem[] }) {
  return (
    <Page title="Bridge inbox" nav="support" current="/support/bridge">
      <h1>Bridge inbox</h1>
      {props.items.length === 0 && <p>No messages.</p>}
      <ul class="bridge">
        {props.items.map((item) => (
          <li data-bridge-id={item.id} class={item.status}>
            <p>
              <Time at={item.createdAt} withDate /> · {item.status}
            </p>
            <pre>{item.text}</pre>
            {item.status === "pending" && <ApiForm method="POST" path={`/api/support/bridge/${item.id}/ack`} label="Acknowledge" />}
          </li>
        ))}
      </ul>
    </Page>
  );
}

export type KnownIssueItem = { id: string; pattern: string; description: string | null; fixType: string | null; fixVersion: string | null; enabled: boolean; hitCount: number };

export function KnownIssuesPage(props: { items: KnownIssueItem[] }) {
  return (
    <Page title="Known issues" nav="support" current="/support/known-issues">
      <h1>Known issues</h1>
      <table>
        <thead>
          <tr>
            <th scope="col">Pattern</th>
            <th scope="col">Fix</th>
            <th scope="col">Enabled</th>
            <th scope="col">Hits</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {props.items.map((issue) => (
            <tr data-known-issue-id={issue.id}>
              <td data-testid="pattern">
                <code>{issue.pattern}</code>
                {issue.description && <p>{issue.description}</p>}
              </td>
              <td>
                {issue.fixType ?? "—"} {issue.fixVersion ?? ""}
              </td>
              <td data-testid="enabled">{issue.enabled ? "yes" : "no"}</td>
              <td>{issue.hitCount}</td>
              <td>
                <ApiForm method="POST" path={`/api/admin/known-issues/${issue.id}/test`} label="Dry run" result="known-issue-test" />
                {issue.enabled && <ApiForm method="POST" path={`/api/admin/known-issues/${issue.id}/disable`} label="Disable" />}
                {!issue.enabled && (
                  <ApiForm method="PATCH" path={`/api/admin/known-issues/${issue.id}`} label="Enable">
                    <input type="hidden" name="enabled" value="true" data-type="boolean" />
                  </ApiForm>
                )}
                <details>
                  <summary>Edit</summary>
                  <ApiForm method="PATCH" path={`/api/admin/known-issues/${issue.id}`} label="Save">
                    <label for={`edit-pattern-${issue.id}`}>Pattern</label>
                    <input id={`edit-pattern-${issue.id}`} name="pattern" required maxlength={500} value={issue.pattern} />
                    <label for={`edit-description-${issue.id}`}>Description</label>
                    <input id={`edit-description-${issue.id}`} name="description" maxlength={1000} value={issue.description ?? ""} />
                  </ApiForm>
                </details>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>New known issue</h2>
      <ApiForm method="POST" path="/api/admin/known-issues" label="Create (enabled)" result="reload">
        <label for="ki-pattern">Pattern (regular expression)</label>
        <input id="ki-pattern" name="pattern" required maxlength={500} />
        <label for="ki-description">Description</label>
        <input id="ki-description" name="description" maxlength={1000} />
        <label for="ki-fix">Fix</label>
        <select id="ki-fix" name="fix_type">
          <option value="manual">manual</option>
          <option value="update">update</option>
          <option value="self_healing">self_healing</option>
        </select>
        <label for="ki-version">Fix version (for update)</label>
        <input id="ki-version" name="fix_version" maxlength={40} />
      </ApiForm>
    </Page>
  );
}

export type ReleaseItem = {
  version: string;
  channel: string;
  rolloutPercent: number;
  status: string;
  haltedReason: string | null;
  installs: number;
  rollbacks: number;
};

export function ReleasesPage(props: { items: ReleaseItem[] }) {
  return (
    <Page title="Releases" nav="support" current="/support/releases">
      <h1>Releases</h1>
      {props.items.length === 0 && <p>No releases yet.</p>}
      <table>
        <thead>
          <tr>
            <th scope="col">Version</th>
            <th scope="col">Channel</th>
            <th scope="col">Rollout</th>
            <th scope="col">Installs</th>
            <th scope="col">Rollbacks</th>
            <th scope="col">State</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {props.items.map((r) => (
            <tr data-release={r.version}>
              <th scope="row">{r.version}</th>
              <td>{r.channel}</td>
              <td data-testid="rollout">{r.rolloutPercent} %</td>
              <td>{r.installs}</td>
              <td>{r.rollbacks}</td>
              <td data-testid="release-state">
                {r.status}
                {r.haltedReason && <span>: {r.haltedReason}</span>}
              </td>
              <td>
                {r.status === "active" && (
                  <ApiForm method="POST" path={`/api/admin/releases/${r.version}/halt`} label="Halt">
                    <label for={`halt-${r.version}`}>Reason</label>
                    <input id={`halt-${r.version}`} name="reason" required maxlength={200} value="halted from the dashboard" />
                  </ApiForm>
                )}
                {r.status === "halted" && <ApiForm method="POST" path={`/api/admin/releases/${r.version}/resume`} label="Resume" />}
                {r.status === "active" && <ApiForm method="POST" path={`/api/admin/releases/${r.version}/push`} label="Push to the rollout now" result="push" />}
                {r.status !== "yanked" && <ApiForm method="POST" path={`/api/admin/releases/${r.version}/yank`} label="Yank" />}
                {r.status !== "yanked" && (
                  <ApiForm method="POST" path={`/api/admin/releases/${r.version}/rollout`} label="Set rollout">
                    <label for={`rollout-${r.version}`}>Percent</label>
                    <input id={`rollout-${r.version}`} name="percent" type="number" min={0} max={100} required value={String(r.rolloutPercent)} data-type="number" />
                  </ApiForm>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </Page>
  );
}

export function InvitationsPage() {
  return (
    <Page title="Invitations" nav="support" current="/support/invitations">
      <h1>Invite an owner</h1>
      <p>
        Creates the owner and a one-time enrollment code for their computer, and emails them the invitation: the link that sets up Buhdi and a
        sign-in link to their dashboard. Without the email, the code and a sign-in link are shown here once, to pass on yourself.
      </p>
      <form data-invite="1" class="invite">
        <label for="inv-name">Owner's name</label>
        <input id="inv-name" name="name" required maxlength={100} />
        <label for="inv-email">Owner's email</label>
        <input id="inv-email" name="email" type="email" required maxlength={254} />
        <label for="inv-node">Computer's name</label>
        <input id="inv-node" name="node_name" required maxlength={100} value="Kitchen Laptop" />
        <label>
          <input type="checkbox" name="send_email" checked /> Email the invitation to the owner
        </label>
        <button type="submit">Invite</button>
        <output role="status" class="invite-result"></output>
      </form>
    </Page>
  );
}

/** A 24-hour sparkline drawn on the server: no script, no image request. */
export function Sparkline(props: { counts: number[] }) {
  const max = Math.max(1, ...props.counts);
  const total = props.counts.reduce((a, b) => a + b, 0);
  const points = props.counts.map((n, i) => `${(i * 120) / 23},${22 - (n / max) * 20}`).join(" ");
  return (
    <svg class="spark" width="120" height="24" viewBox="0 0 120 24" role="img" aria-label={`${total} reports in the last 24 hours`}>
      <polyline points={points} fill="none" stroke="#0b4f9c" stroke-width="1.5" />
    </svg>
  );
}

export type CrashGroupItem = {
  id: string;
  title: string;
  state: string;
  reports: number;
  nodes: number;
  versions: string[];
  pattern: string | null;
  lastSeen: Date;
  hours: number[];
};
export type TicketItem = { id: string; groupId: string; title: string; tags: string[]; reports: number; updatedAt: Date };

/** `only`: the one group shown alone (`?group=`, the escalation email's link), or null for all. */
export function CrashGroupsPage(props: { groups: CrashGroupItem[]; tickets: TicketItem[]; only: string | null }) {
  return (
    <Page title="Crash groups" nav="support" current="/support/crash-groups">
      <h1>{props.only ? "Crash group" : "Crash groups"}</h1>
      {props.only && (
        <p>
          <a href="/support/crash-groups">All crash groups</a>
        </p>
      )}
      {/* Refreshed in place from /support/crash-groups/list every 5 s: a group's state changes as triage and the fix go on. */}
      <div
        id="crash-groups"
        data-refresh={props.only ? `/support/crash-groups/list?group=${encodeURIComponent(props.only)}` : "/support/crash-groups/list"}
        data-every="5"
      >
        <CrashGroupsBody groups={props.groups} tickets={props.tickets} only={props.only} />
      </div>
    </Page>
  );
}

/** The groups and the open tickets: what the crash groups page refreshes itself with. */
export function CrashGroupsBody(props: { groups: CrashGroupItem[]; tickets: TicketItem[]; only: string | null }) {
  return (
    <div>
      {props.groups.length === 0 && <p>No crashes yet.</p>}
      <table>
        <thead>
          <tr>
            <th scope="col">Crash</th>
            <th scope="col">State</th>
            <th scope="col">Reports</th>
            <th scope="col">Nodes</th>
            <th scope="col">Versions</th>
            <th scope="col">Known issue</th>
            <th scope="col">Last seen</th>
            <th scope="col">24 h</th>
          </tr>
        </thead>
        <tbody>
          {props.groups.map((g) => (
            <tr data-group-id={g.id} id={`group-${g.id}`}>
              <th scope="row">{g.title}</th>
              <td data-testid="group-state">{g.state}</td>
              <td>{g.reports}</td>
              <td>{g.nodes}</td>
              <td>{g.versions.join(", ")}</td>
              <td>{g.pattern ? <code>{g.pattern}</code> : "none"}</td>
              <td>
                <Time at={g.lastSeen} withDate />
              </td>
              <td>
                <Sparkline counts={g.hours} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>{props.only ? "Its ticket" : "Open tickets"}</h2>
      {props.tickets.length === 0 ? (
        <p>No open tickets.</p>
      ) : (
        <ul>
          {props.tickets.map((t) => (
            <li data-ticket-id={t.id}>
              {t.title} · {t.reports} reports · {t.tags.join(", ")} · updated <Time at={t.updatedAt} withDate />
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
