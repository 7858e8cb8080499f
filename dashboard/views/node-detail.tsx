/** @jsxImportSource hono/jsx */
/**
 * IT Support's node detail: live status, 24 h charts, telemetry timeline, commands with acks, update
 * history; all of it below the name refreshed in place every 5 s.
 */
import { Page, Time } from "./layout.tsx";

export type NodeDetail = {
  id: string;
  name: string;
  owner: string;
  os: string;
  arch: string;
  status: string;
  /** Set when the node was uninstalled (status "retired"). */
  retiredAt: string | null;
  version: string | null;
  lastSeen: string | null;
  uptimeS: number | null;
  memoryMb: number | null;
  errorCount: number | null;
  failureCount: number | null;
  history: Array<{ at: number; memory_mb: number; error_count: number }>;
  timeline: Array<{ id: string; type: string; severity: string; at: Date; version: string | null; firstLine: string }>;
  commands: Array<{ id: string; type: string; createdAt: number; sendCount: number; ack: { status: string; detail?: string | null; at: number } | null }>;
  updates: Array<{ at: Date; action: string; fromVersion: string | null; fixVersion: string | null; state: string }>;
  quarantined: string[];
  now: number;
};

/** A 24 h line chart drawn on the server (SVG, no script), with its figures in the accessible name. */
function Chart(props: { label: string; unit: string; points: Array<{ at: number; value: number }>; now: number }) {
  const width = 480;
  const height = 96;
  const start = props.now - 24 * 3600_000;
  const max = Math.max(1, ...props.points.map((p) => p.value));
  const coords = props.points.map((p) => `${(((p.at - start) / (24 * 3600_000)) * width).toFixed(1)},${(height - 4 - (p.value / max) * (height - 8)).toFixed(1)}`);
  const last = props.points.at(-1);
  const summary = last ? `${props.label}: ${props.points.length} samples over 24 h, latest ${last.value} ${props.unit}, highest ${max} ${props.unit}` : `${props.label}: no samples in the last 24 h`;
  return (
    <figure>
      <figcaption>
        {props.label} (24 h, highest {max} {props.unit})
      </figcaption>
      <svg class="chart" width={String(width)} height={String(height)} viewBox={`0 0 ${width} ${height}`} role="img" aria-label={summary}>
        <rect x="0" y="0" width={String(width)} height={String(height)} fill="#fff" stroke="#c9c9c9" />
        {coords.length > 0 && <polyline points={coords.join(" ")} fill="none" stroke="#0b4f9c" stroke-width="2" />}
      </svg>
    </figure>
  );
}

export function NodeDetailPage(props: { node: NodeDetail }) {
  const n = props.node;
  return (
    <Page title={n.name} nav="support" current="/support">
      <h1>{n.name}</h1>
      {/* app.js refreshes this region from /support/nodes/<id>/live every 5 s, like the fleet table. */}
      <div id="node" data-refresh={`/support/nodes/${n.id}/live`} data-every="5">
        <NodeDetailBody node={n} />
      </div>
    </Page>
  );
}

/** Everything on the node's page below its name: what the page refreshes itself with. */
export function NodeDetailBody(props: { node: NodeDetail }) {
  const n = props.node;
  return (
    <div>
      <dl class="facts">
        <dt>Owner</dt>
        <dd>{n.owner}</dd>
        <dt>Status</dt>
        <dd data-testid="status">
          {n.status}
          {n.retiredAt && (
            <>
              {" "}(uninstalled <Time at={n.retiredAt} withDate />)
            </>
          )}
        </dd>
        <dt>Version</dt>
        <dd>{n.version ?? "—"}</dd>
        <dt>Last seen</dt>
        <dd>{n.lastSeen ? <Time at={n.lastSeen} withDate /> : "never"}</dd>
        <dt>System</dt>
        <dd>
          {n.os} {n.arch}
        </dd>
        <dt>Memory, errors, link failures</dt>
        <dd>
          {n.memoryMb ?? "—"} MB, {n.errorCount ?? "—"}, {n.failureCount ?? "—"}
        </dd>
      </dl>
      <Chart label="Memory" unit="MB" points={n.history.map((h) => ({ at: h.at, value: h.memory_mb }))} now={n.now} />
      <Chart label="Error count" unit="errors" points={n.history.map((h) => ({ at: h.at, value: h.error_count }))} now={n.now} />

      <h2>Updates</h2>
      {n.quarantined.length > 0 && <p>Rolled back on this node (it will not install them again): {n.quarantined.join(", ")}</p>}
      {n.updates.length === 0 ? (
        <p>No updates sent by triage.</p>
      ) : (
        <ul>
          {n.updates.map((u) => (
            <li>
              <Time at={u.at} withDate /> · {u.action} {u.fromVersion ?? "?"} → {u.fixVersion ?? "?"} · {u.state}
            </li>
          ))}
        </ul>
      )}

      <h2>Commands</h2>
      {n.commands.length === 0 ? (
        <p>No commands.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Queued</th>
              <th scope="col">Type</th>
              <th scope="col">Sent</th>
              <th scope="col">Ack</th>
            </tr>
          </thead>
          <tbody>
            {n.commands.map((cmd) => (
              <tr data-command-id={cmd.id}>
                <td>
                  <Time at={new Date(cmd.createdAt)} withDate />
                </td>
                <td>{cmd.type}</td>
                <td>{cmd.sendCount}×</td>
                <td>{cmd.ack ? `${cmd.ack.status}${cmd.ack.detail ? `: ${cmd.ack.detail}` : ""}` : "waiting"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}

      <h2>Telemetry</h2>
      <ol class="timeline">
        {n.timeline.map((t) => (
          <li>
            <Time at={t.at} withDate /> · {t.type} ({t.severity}){t.version ? ` · ${t.version}` : ""}
            {t.firstLine && (
              <>
                <br />
                <code>{t.firstLine}</code>
              </>
            )}
          </li>
        ))}
      </ol>
    </div>
  );
}
