/** The OpenAPI 3.1 document of the edge's HTTP API, served at GET /api/openapi.json. */
import { z } from "zod";
import { ApiErrorBodySchema } from "../../protocol/errors.ts";
import { NODE_KEY_HEADER } from "../../protocol/headers.ts";
import type { Auth, Operation, Response } from "./operation.ts";

type JsonSchema = Record<string, unknown>;

/** What every route with this auth may answer before its handler runs (auth.ts, rate-limit.ts). */
const AUTH_ERRORS: Record<Auth, Record<number, string>> = {
  none: {},
  node: { 401: "The node key is missing or not valid.", 429: "Too many requests from this node; retry after the retry-after header." },
  admin: { 401: "The admin token is missing or wrong.", 503: "The edge has no ADMIN_TOKEN configured." },
  viewer: { 401: "The dashboard (or admin) token is missing or wrong.", 503: "The edge has no ADMIN_TOKEN configured." },
  session: { 401: "Not signed in to the dashboard (no valid session cookie): the page says how to sign in." },
};

const SECURITY: Record<Auth, Record<string, string[]>[] | undefined> = {
  none: undefined,
  node: [{ nodeKey: [] }],
  admin: [{ adminToken: [] }, { sessionCookie: [] }],
  viewer: [{ dashboardToken: [] }, { adminToken: [] }, { sessionCookie: [] }],
  session: [{ sessionCookie: [] }],
};

export function openApiDocument(operations: readonly Operation[], version: string): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const operation of operations) {
    paths[operation.path] = { ...paths[operation.path], [operation.method]: describe(operation) };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Buhdi fleet edge",
      version,
      description: "Crash reports and health telemetry from nodes; triage, releases and support for IT Support and owners.",
    },
    paths,
    components: {
      schemas: { ApiError: jsonSchema(ApiErrorBodySchema, "output") },
      securitySchemes: {
        nodeKey: { type: "apiKey", in: "header", name: NODE_KEY_HEADER, description: "The node key from enrollment." },
        adminToken: { type: "http", scheme: "bearer", description: "ADMIN_TOKEN: IT Support." },
        dashboardToken: { type: "http", scheme: "bearer", description: "An owner's dashboard token: their own nodes only." },
        sessionCookie: {
          type: "apiKey",
          in: "cookie",
          name: "__Host-buhdi-session",
          description:
            "A dashboard session (after a sign-in link, or IT Support's admin token on the sign-in form); sees what its bearer would.",
        },
      },
    },
  };
}

function describe(operation: Operation): JsonSchema {
  const security = SECURITY[operation.auth];
  return {
    summary: operation.summary,
    ...(security && { security }),
    parameters: [
      ...parameters(operation.params, "path"),
      ...parameters(operation.query, "query"),
      ...parameters(operation.headers, "header"),
    ],
    ...(operation.body && {
      requestBody: { required: true, content: { "application/json": { schema: jsonSchema(operation.body, "input") } } },
    }),
    ...(operation.form && {
      requestBody: { required: true, content: { "application/x-www-form-urlencoded": { schema: jsonSchema(operation.form, "input") } } },
    }),
    responses: { ...successes(operation.responses), ...errors(operation) },
  };
}

function parameters(schema: z.ZodObject | undefined, where: "path" | "query" | "header"): JsonSchema[] {
  if (!schema) return [];
  return Object.entries(schema.shape).map(([name, field]) => ({
    name,
    in: where,
    // Path parameters always are; a query parameter or header is when undefined does not pass (no default, not optional).
    required: where === "path" || !(field as z.ZodType).safeParse(undefined).success,
    schema: jsonSchema(field as z.ZodType, "input"),
  }));
}

function successes(responses: Record<number, Response>): Record<string, JsonSchema> {
  return Object.fromEntries(
    Object.entries(responses).map(([status, response]) => [
      status,
      {
        description: response.description,
        ...(response.schema && { content: { "application/json": { schema: jsonSchema(response.schema, "output") } } }),
        ...(response.mediaType && { content: { [response.mediaType]: {} } }),
      },
    ]),
  );
}

/** Every refusal the route can give, each with the shared error body. */
function errors(operation: Operation): Record<string, JsonSchema> {
  const implied: Record<number, string>[] = [AUTH_ERRORS[operation.auth]];
  if (operation.params) implied.push({ 400: "A path parameter is not valid (invalid_path)." });
  if (operation.query) implied.push({ 400: "A query parameter is not valid (invalid_query)." });
  if (operation.headers) implied.push({ 400: "A request header is not valid (invalid_header)." });
  if (operation.method !== "get") implied.push({ 403: "Sent by a browser from another site (cross_origin_refused)." });
  if (operation.form) {
    implied.push({
      400: "A form field is not valid (invalid_form; issues name each field).",
      413: "The form is larger than this route accepts.",
      415: "The form is not sent as application/x-www-form-urlencoded.",
    });
  }
  if (operation.body) {
    implied.push({
      400: "The body is not JSON or not valid (invalid_json, invalid_body; issues name each field).",
      413: "The body is larger than this route accepts.",
      415: "The body is not sent as application/json.",
    });
  }
  implied.push(operation.errors ?? {}, { 500: "Something went wrong on the edge; retry later." });
  const byStatus = new Map<number, string[]>();
  for (const group of implied) {
    for (const [status, text] of Object.entries(group)) byStatus.set(Number(status), [...(byStatus.get(Number(status)) ?? []), text]);
  }
  // A page refuses with a page that says what is wrong; the API with the shared error body.
  const content = operation.html ? { "text/html": {} } : { "application/json": { schema: { $ref: "#/components/schemas/ApiError" } } };
  return Object.fromEntries(
    [...byStatus].map(([status, texts]) => [String(status), { description: [...new Set(texts)].join(" "), content }]),
  );
}

function jsonSchema(schema: z.ZodType, io: "input" | "output"): JsonSchema {
  // "any" for what JSON Schema cannot say (a refinement's rule): the route still checks it.
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: "any" }) as JsonSchema;
  return rest;
}
