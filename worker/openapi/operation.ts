/**
 * The HTTP API described once, beside the routes: each routes/ file lists its
 * operations with the zod schemas its handlers already validate with, and
 * document.ts turns them into OpenAPI 3.1 through zod's own z.toJSONSchema().
 *
 * Hand-rolled on purpose. @hono/zod-openapi wants every route rewritten as
 * createRoute() + app.openapi() with its validator in place of our readers
 * (byte caps while streaming, 413/415, one error shape); hono-openapi documents
 * parameters and bodies only through its own validator middleware (validating
 * twice, or changing the error body) and brings six packages into the Worker.
 * This needs neither: handlers are unchanged, and a test (openapi.test.ts)
 * holds the description to the routes the app really serves.
 */
import type { z } from "zod";

export type Method = "get" | "post" | "patch" | "put" | "delete";

/** Who may call: each answers 401 (and more) before the handler runs. */
export type Auth = "none" | "node" | "admin" | "viewer" | "session";

export type Response = {
  description: string;
  /** The JSON body, when the route has a schema for it. */
  schema?: z.ZodType;
  /** Another media type than JSON (the release bundle). */
  mediaType?: string;
};

export type Operation = {
  method: Method;
  /** OpenAPI style: `/api/nodes/{id}`. */
  path: string;
  summary: string;
  auth: Auth;
  params?: z.ZodObject;
  query?: z.ZodObject;
  /** Request headers the route reads (lower-case names), beyond its auth. */
  headers?: z.ZodObject;
  body?: z.ZodType;
  /** An HTML form body (application/x-www-form-urlencoded), for the dashboard's pages. */
  form?: z.ZodType;
  /** A dashboard page: it answers HTML, refusals included (a page that says what is wrong). */
  html?: boolean;
  /** Successful answers by status. */
  responses: Record<number, Response>;
  /** Refusals of this route beyond the ones its auth and inputs imply, by status: what they mean. */
  errors?: Record<number, string>;
};
