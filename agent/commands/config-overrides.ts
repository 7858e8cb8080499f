/**
 * config-overrides.json: the settings the cloud changed with CONFIG_CHANGE commands, kept apart
 * from config.json (the node's identity, written only by enrollment) so a bad command can never
 * cost the node its identity. A command's payload is applied as a JSON Merge Patch (RFC 7396):
 * objects merge key by key, null deletes a key, anything else replaces. Applying the same patch
 * twice gives the same file, which is what makes a command replayed after a crash harmless.
 * Nothing in the node reads these settings yet; they are stored for the features that will.
 */
import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import type { Json } from "../../protocol/index.ts";
import { writeFileAtomic } from "../core/atomic-file.ts";
import { isMissing } from "../core/fs-errors.ts";

export type JsonObject = { [key: string]: Json };

function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function mergePatch(target: Json | undefined, patch: Json): Json {
  if (!isObject(patch)) return patch;
  const result: JsonObject = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

export async function readOverrides(file: string): Promise<JsonObject> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if (isMissing(error)) return {};
    throw error;
  }
  const parsed = JSON.parse(text) as Json;
  if (!isObject(parsed)) throw new TypeError(`${file} does not hold a JSON object`);
  return parsed;
}

/** Returns the settings as they are now on disk. */
export async function applyOverrides(file: string, patch: JsonObject): Promise<JsonObject> {
  const merged = mergePatch(await readOverrides(file), patch) as JsonObject;
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await writeFileAtomic(file, `${JSON.stringify(merged, null, 2)}\n`, 0o600);
  return merged;
}
