/**
 * The bridge_comms message IT Support Buhdi reads, in its fixed format:
 *
 *   FROM: Telemetry System
 *   CLASS: node_issue
 *   MSG: Node "Kitchen Laptop" (user: Nana) crash report:
 *        UNCAUGHT: EADDRINUSE 127.0.0.1:9847
 *        EXIT code=1
 *        Version: 0.3.0, OS: win32
 */
export const BRIDGE_FROM = "Telemetry System";
export const BRIDGE_CLASS = "node_issue";

const INDENT = "     ";
/** `[2026-11-28T10:00:00.000Z] ` in front of the agent's record lines. */
const TIMESTAMP = /^\[[^\]]*\]\s*/;

export function bridgeMessage(input: {
  nodeName: string;
  ownerName: string;
  entries: string[];
  version: string | null;
  os: string;
}): string {
  const exitLine = lastMatching(input.entries, /\bEXIT\b/);
  return [
    `Node "${input.nodeName}" (user: ${input.ownerName}) crash report:`,
    INDENT + crashLine(input.entries),
    ...(exitLine ? [INDENT + clip(exitLine.replace(TIMESTAMP, ""))] : []),
    `${INDENT}Version: ${input.version ?? "unknown"}, OS: ${input.os}`,
  ].join("\n");
}

/** The report's error line (its last uncaught error or rejection, else its first line), without the timestamp, at most 300 characters. */
export function crashLine(entries: string[]): string {
  const line = lastMatching(entries, /\b(UNCAUGHT|UNHANDLED_REJECTION)\b/) ?? entries.find((l) => l.trim()) ?? "(no crash line)";
  return clip(line.replace(TIMESTAMP, ""));
}

/** The whole message as IT Support reads it (FROM / CLASS / MSG). */
export function bridgeText(msg: string): string {
  return `FROM: ${BRIDGE_FROM}\nCLASS: ${BRIDGE_CLASS}\nMSG: ${msg}`;
}

function lastMatching(lines: string[], pattern: RegExp): string | undefined {
  for (let i = lines.length - 1; i >= 0; i--) if (pattern.test(lines[i]!)) return lines[i];
  return undefined;
}

function clip(line: string): string {
  return line.length > 300 ? `${line.slice(0, 297)}...` : line;
}
