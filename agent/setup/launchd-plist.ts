/**
 * The LaunchAgent that keeps the supervisor running on macOS: loaded at login (RunAtLoad) and
 * started again whenever it exits (KeepAlive). Unverified without a Mac: see docs/install.md.
 */
export const LAUNCHD_LABEL = "com.buhdi.node";

export function launchdPlist(options: { executable: string; logFile: string }): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>Label</key>
  <string>${xml(LAUNCHD_LABEL)}</string>
  <key>ProgramArguments</key>
  <array>
    <string>${xml(options.executable)}</string>
    <string>run</string>
  </array>
  <key>RunAtLoad</key>
  <true/>
  <key>KeepAlive</key>
  <true/>
  <key>ThrottleInterval</key>
  <integer>5</integer>
  <key>ProcessType</key>
  <string>Background</string>
  <key>StandardOutPath</key>
  <string>${xml(options.logFile)}</string>
  <key>StandardErrorPath</key>
  <string>${xml(options.logFile)}</string>
</dict>
</plist>
`;
}

export function xml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" })[ch]!);
}
