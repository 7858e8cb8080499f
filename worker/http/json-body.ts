/**
 * Reads a JSON request body the strict way: JSON content type (415), a byte
 * cap enforced while streaming, not trusted from Content-Length alone (413),
 * valid UTF-8 and JSON (400), then the schema (400 with every issue's path).
 */
import type { Context } from "hono";
import type { z } from "zod";
import { ApiError, invalid } from "./errors.ts";

export async function readJsonBody<S extends z.ZodType>(c: Context, schema: S, maxBytes: number): Promise<z.output<S>> {
  requireJsonContentType(c.req.header("content-type"));
  const bytes = await readCapped(c.req.raw, maxBytes);
  const parsed = schema.safeParse(parseJson(bytes));
  if (!parsed.success) throw invalid("body", parsed.error);
  return parsed.data;
}

function requireJsonContentType(header: string | undefined): void {
  const mediaType = header?.split(";")[0]?.trim().toLowerCase();
  if (mediaType === "application/json") return;
  throw new ApiError(
    415,
    "unsupported_media_type",
    `Send the body as JSON with content-type: application/json (got ${header ? JSON.stringify(header.slice(0, 100)) : "no content-type"}).`,
  );
}

function tooLarge(maxBytes: number): ApiError {
  return new ApiError(413, "body_too_large", `The body is larger than ${maxBytes} bytes; send fewer or shorter entries.`);
}

async function readCapped(request: Request, maxBytes: number): Promise<Uint8Array> {
  const declared = Number(request.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge(maxBytes);
  if (!request.body) return new Uint8Array();

  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

function parseJson(bytes: Uint8Array): unknown {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new ApiError(400, "invalid_json", "The body is not valid UTF-8 text.");
  }
  if (text.trim() === "") throw new ApiError(400, "invalid_json", "The body is empty; send a JSON object.");
  try {
    return JSON.parse(text);
  } catch (error) {
    const detail = error instanceof SyntaxError ? `: ${error.message}` : "";
    throw new ApiError(400, "invalid_json", `The body is not valid JSON${detail}.`);
  }
}
