/**
 * The OpenAPI document at GET /api/openapi.json describes exactly the routes
 * the app serves (walked from Hono's own route table), and every operation
 * says how it can fail, with the one error body the API uses.
 */
import { describe, expect, it } from "vitest";
import { ApiErrorBodySchema } from "../../protocol/errors.ts";
import { app } from "../../worker/app.ts";
import { call } from "./helpers.ts";

type Doc = {
  openapi: string;
  paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema?: { $ref?: string } }> }> }>>;
  components: { schemas: Record<string, unknown> };
};

async function servedDocument(): Promise<Doc> {
  const res = await call("/api/openapi.json");
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  return res.json<Doc>();
}

/** Hono's `/api/nodes/:id` as OpenAPI's `/api/nodes/{id}`; a sub-app's `/` root has no trailing slash. */
function openApiPath(honoPath: string): string {
  const path = honoPath.replace(/:([A-Za-z_]+)/g, "{$1}");
  return path.length > 1 ? path.replace(/\/$/, "") : path;
}

/**
 * Handlers and per-route middleware, not `.use()` middleware (method ALL); one entry per method and
 * path. Not the setup link's pages (/setup/...): they answer a browser or a shell with a page or a
 * script, downloads included, and are described in docs/install.md.
 */
function servedOperations(): string[] {
  const served = app.routes
    .filter((route) => route.method !== "ALL" && !route.path.startsWith("/setup"))
    .map((route) => `${route.method.toLowerCase()} ${openApiPath(route.path)}`);
  return [...new Set(served)].sort();
}

function documentedOperations(doc: Doc): string[] {
  return Object.entries(doc.paths)
    .flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method} ${path}`))
    .sort();
}

const CANNOT_REFUSE = ["GET /api/health", "GET /api/openapi.json", "GET /", "GET /auth/support"];
const PAGE = /^\/(?!api(\/|$))/;

describe("GET /api/openapi.json", () => {
  it("is an OpenAPI 3.1 document, served without a token", async () => {
    expect((await servedDocument()).openapi).toBe("3.1.0");
  });

  it("documents every route the app serves with its method, and nothing it does not serve", async () => {
    const doc = await servedDocument();
    expect(servedOperations().length).toBeGreaterThan(30);
    expect(documentedOperations(doc)).toEqual(servedOperations());
  });

  it("lists every operation's 4xx responses, each with the shared error body", async () => {
    const doc = await servedDocument();
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(methods)) {
        const clientErrors = Object.keys(operation.responses).filter((status) => status.startsWith("4"));
        const where = `${method.toUpperCase()} ${path}`;
        // Only the public documents of the edge and its two public pages (the start, IT Support's sign-in form) cannot be refused.
        if (!CANNOT_REFUSE.includes(where)) expect(clientErrors, where).not.toEqual([]);
        for (const status of [...clientErrors, "500"]) {
          // A dashboard page refuses with a page that says what is wrong; the API with the shared error body.
          if (PAGE.test(path)) expect(Object.keys(operation.responses[status]?.content ?? {}), `${where} ${status}`).toEqual(["text/html"]);
          else
            expect(operation.responses[status]?.content?.["application/json"]?.schema?.$ref, `${where} ${status}`).toBe(
              "#/components/schemas/ApiError",
            );
        }
      }
    }
  });

  it("describes the error body as {error: {code, message, issues?}}", async () => {
    const { components } = await servedDocument();
    expect(components.schemas.ApiError).toMatchObject({
      type: "object",
      required: ["error"],
      properties: {
        error: {
          type: "object",
          required: ["code", "message"],
          properties: { code: { type: "string" }, message: { type: "string" }, issues: { type: "array" } },
        },
      },
    });
  });

  it("documents the error body the API really sends", async () => {
    const refused = await call("/api/admin/owners", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(refused.status).toBe(401);
    expect(ApiErrorBodySchema.safeParse(await refused.json()).success).toBe(true);
  });

  it("names each route's inputs: path and query parameters and the JSON body", async () => {
    const doc = (await servedDocument()) as unknown as { paths: Record<string, Record<string, Record<string, unknown>>> };
    const push = doc.paths["/api/admin/releases/{version}/push"]!.post!;
    expect(push.parameters).toEqual([expect.objectContaining({ name: "version", in: "path", required: true })]);
    expect(push.requestBody).toMatchObject({
      content: { "application/json": { schema: { type: "object", properties: { node_ids: {} } } } },
    });
    const telemetry = doc.paths["/api/node/telemetry"]!.get!;
    expect(telemetry.parameters).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: "node_id", in: "query", required: false }),
        expect.objectContaining({ name: "limit", in: "query", required: false }),
      ]),
    );
  });
});
