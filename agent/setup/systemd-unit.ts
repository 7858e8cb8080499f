/**
 * The systemd user unit that keeps the supervisor running on Linux: started at login
 * (default.target of the user's manager), restarted 5 s after it stops for any reason, without
 * systemd's start-rate limit ever giving up on it.
 */
export const SYSTEMD_UNIT_NAME = "buhdi-node.service";

/** `executable` is absolute; systemd needs it quoted if it holds spaces. */
export function systemdUnit(executable: string): string {
  return `[Unit]
Description=Buhdi node (tells the cloud when something goes wrong on this computer)
After=network-online.target
StartLimitIntervalSec=0

[Service]
Type=simple
ExecStart=${quoteForSystemd(executable)} run
Restart=always
RestartSec=5
KillMode=mixed
TimeoutStopSec=15

[Install]
WantedBy=default.target
`;
}

function quoteForSystemd(value: string): string {
  if (/^[A-Za-z0-9_./%-]+$/.test(value)) return value;
  return `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}
