/**
 * Reads an HTML form's body (application/x-www-form-urlencoded) the strict way the JSON reader
 * does: content type (415), a byte cap (413), then the schema (400 naming each bad field).
 */
import type { Context } from "hono";
import type { z } from "zod";
import { ApiError, invalid } from "./errors.ts";

export const FORM_MAX_BYTES = 8 * 1024;

export async function readFormBody<S extends z.ZodType>(c: Context, schema: S, maxBytes = FORM_MAX_BYTES): Promise<z.output<S>> {
  const type = c.req.header("content-type")?.split(";")[0]?.trim().toLowerCase();
  if (type !== "application/x-www-form-urlencoded") {
    throw new ApiError(415, "unsupported_media_type", "Send the form as application/x-www-form-urlencoded.");
  }
  const declared = Number(c.req.header("content-length"));
  if (Number.isFinite(declared) && declared > maxBytes)
    throw new ApiError(413, "body_too_large", `The form is larger than ${maxBytes} bytes.`);
  const bytes = await c.req.arrayBuffer();
  if (bytes.byteLength > maxBytes) throw new ApiError(413, "body_too_large", `The form is larger than ${maxBytes} bytes.`);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new ApiError(400, "invalid_form", "The form is not valid UTF-8 text.");
  }
  const fields: Record<string, string> = {};
  for (const [key, value] of new URLSearchParams(text)) fields[key] = value;
  const parsed = schema.safeParse(fields);
  if (!parsed.success) throw invalid("form", parsed.error);
  return parsed.data;
}
