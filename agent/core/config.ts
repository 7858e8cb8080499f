/**
 * The node's identity on disk: config.json ({server, node_id}, not secret) and node.key (the
 * secret, 0600 from birth). Written by `enroll`, read by everything that talks to the cloud.
 */
import { mkdir, readFile } from "node:fs/promises";
import { writeFileAtomic } from "./atomic-file.ts";
import { isMissing } from "./fs-errors.ts";
import type { HomePaths } from "./paths.ts";

export type Enrollment = { server: string; node_id: string; key: string };

/** An RFC 9562 UUID, or the nil or max one: exactly what z.uuid() accepts. */
const UUID =
  /^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-8][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}|00000000-0000-0000-0000-000000000000|ffffffff-ffff-ffff-ffff-ffffffffffff)$/;

/**
 * config.json checked by hand, as z.object({ server: z.url(), node_id: z.uuid() }) would (extra
 * fields ignored): every command reads it at start, the supervisor included, and evaluating zod
 * and the protocol's schemas for two fields would cost the idle supervisor memory for nothing.
 */
function parseConfig(json: unknown): { server: string; node_id: string } | null {
  if (typeof json !== "object" || json === null || Array.isArray(json)) return null;
  const { server, node_id } = json as Record<string, unknown>;
  if (typeof server !== "string" || !URL.canParse(server.trim())) return null;
  if (typeof node_id !== "string" || !UUID.test(node_id)) return null;
  return { server, node_id };
}

/** Raised when the node has no usable identity; the message tells the user what to run. */
export class NotEnrolledError extends Error {
  override name = "NotEnrolledError";
}

/** Trailing slashes would double up when we append /api/...; a path prefix is kept on purpose. */
export function normalizeServer(server: string): string {
  const url = new URL(server);
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new TypeError(`the server must be an http(s) URL, got ${url.protocol}`);
  }
  return url.toString().replace(/\/+$/, "");
}

export async function saveEnrollment(paths: HomePaths, enrollment: Enrollment): Promise<void> {
  await mkdir(paths.home, { recursive: true, mode: 0o700 });
  // Key first: a config.json pointing at a node whose key was never written would look enrolled.
  await writeFileAtomic(paths.key, `${enrollment.key}\n`, 0o600);
  const config = { server: enrollment.server, node_id: enrollment.node_id };
  await writeFileAtomic(paths.config, `${JSON.stringify(config, null, 2)}\n`, 0o644);
}

export async function loadEnrollment(paths: HomePaths): Promise<Enrollment> {
  const notEnrolled = `this computer is not enrolled yet (nothing usable in ${paths.home}). Run: buhdi-node enroll <code> --server <url>`;
  let configText: string;
  let keyText: string;
  try {
    [configText, keyText] = await Promise.all([readFile(paths.config, "utf8"), readFile(paths.key, "utf8")]);
  } catch (error) {
    if (isMissing(error)) throw new NotEnrolledError(notEnrolled);
    throw error;
  }
  let json: unknown;
  try {
    json = JSON.parse(configText);
  } catch {
    throw new NotEnrolledError(`${paths.config} is not valid JSON. ${notEnrolled}`);
  }
  const config = parseConfig(json);
  const key = keyText.trim();
  if (config === null || key === "") throw new NotEnrolledError(`${paths.config} or ${paths.key} is damaged. ${notEnrolled}`);
  return { server: normalizeServer(config.server), node_id: config.node_id, key };
}
