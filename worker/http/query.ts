/** Validates a request's query string, path parameters or headers against a schema (400 naming each bad one). */
import type { Context } from "hono";
import type { z } from "zod";
import { invalid } from "./errors.ts";

export function readQuery<S extends z.ZodType>(c: Context, schema: S): z.output<S> {
  const parsed = schema.safeParse(c.req.query());
  if (!parsed.success) throw invalid("query", parsed.error);
  return parsed.data;
}

export function readParams<S extends z.ZodType>(c: Context, schema: S): z.output<S> {
  const parsed = schema.safeParse(c.req.param());
  if (!parsed.success) throw invalid("path", parsed.error);
  return parsed.data;
}

/** Header names are lower case in the schema (`idempotency-key`); an absent header is undefined. */
export function readHeaders<S extends z.ZodObject>(c: Context, schema: S): z.output<S> {
  const values = Object.fromEntries(Object.keys(schema.shape).map((name) => [name, c.req.header(name)]));
  const parsed = schema.safeParse(values);
  if (!parsed.success) throw invalid("header", parsed.error);
  return parsed.data;
}
