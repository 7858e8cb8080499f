/**
 * The agent's one line of diagnostics, on stderr (the supervisor's and the node program's both
 * end up wherever the installer sends the supervisor's). Its own module so the supervisor can
 * log without loading node-context.ts, which brings the crash reporter, the spool and zod.
 */
export function log(message: string): void {
  process.stderr.write(`buhdi-node: ${message}\n`);
}
