/**
 * endpoint.json: which node program holds the local endpoint, written by each program once it
 * listens. Local tools read it to find the port (the OS sleep hook), and a program that finds
 * its port taken reads it to tell a leftover of its own node from a stranger (local-port.ts).
 * Written atomically; a record that cannot be read is simply absent.
 */
import { readFile } from "node:fs/promises";
import { z } from "zod";
import { writeFileAtomic } from "../core/atomic-file.ts";

const EndpointSchema = z.object({
  pid: z.number().int().positive(),
  port: z.number().int().min(1).max(65535),
  url: z.string(),
  version: z.string(),
  started_at: z.iso.datetime(),
});
export type EndpointRecord = z.output<typeof EndpointSchema>;

export async function writeEndpoint(file: string, record: EndpointRecord): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify(record)}\n`, 0o644);
}

export async function readEndpoint(file: string): Promise<EndpointRecord | null> {
  try {
    const parsed = EndpointSchema.safeParse(JSON.parse(await readFile(file, "utf8")));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}
