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
  /**
   * The line that says what killed the program, as fingerprint.ts found it: the agent's
   * "UNCAUGHT: …" record, or in crash text from elsewhere the error line itself, not the
   * `node:events:491` location or the `throw er;` source line Node prints above it.
   */
  crashLine: string;
  version: string | null;
  os: string;
}): string {
  const crashLine = input.crashLine.replace(TIMESTAMP, "");
  const exitLine = lastMatching(input.entries, /^(?:\[[^\]]*\]\s*)?EXIT\b/)?.replace(TIMESTAMP, "");
  return [
    `Node "${input.nodeName}" (user: ${input.ownerName}) crash report:`,
    INDENT + clip(crashLine),
    ...(exitLine && exitLine !== crashLine ? [INDENT + clip(exitLine)] : []),
    `${INDENT}Version: ${input.version ?? "unknown"}, OS: ${input.os}`,
  ].join("\n");
}

/** The whole message as IT Support reads it (FROM / CLASS / MSG). */
export function bridgeText(msg: string): string {
  return `FROM: ${BRIDGE_FROM}\nCLASS: ${BRIDGE_CLASS}\nMSG: ${msg}`;
}

function lastMatching(lines: string[], pattern: RegExp): string | undefined {
  for (let i = lines.length - 1; i >= 0; i--) if (pattern.test(lines[i]!)) return lines[i];
  return undefined;
}

/** A crash line as people read it: without the agent's timestamp, at most 300 characters. */
export function readableCrashLine(line: string): string {
  return clip(line.replace(TIMESTAMP, ""));
}

function clip(line: string): string {
  return line.length > 300 ? `${line.slice(0, 297)}...` : line;
}
