/** The one error body every 4xx/5xx of the API uses, so clients parse errors in one way. */
import { z } from "zod";

export type ApiIssue = { path: string; message: string };
export type ApiErrorBody = { error: { code: string; message: string; issues?: ApiIssue[] } };

/** The same body as a schema, for the API's OpenAPI document. */
export const ApiErrorBodySchema: z.ZodType<ApiErrorBody> = z.object({
  error: z.object({
    /** Stable and machine-readable, e.g. `invalid_body`, `node_key_invalid`. */
    code: z.string(),
    /** For a person: what went wrong and what to do. */
    message: z.string(),
    /** Input errors: one per bad field, `path` like `entries[3]` or `(body)`. */
    issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  }),
});

/**
 * zod's issues as `{path, message}`, with paths like `entries[3]` or `details.stage`;
 * an issue about the whole value gets `root` as its path.
 */
export function issuesFrom(error: z.ZodError, root = "(body)"): ApiIssue[] {
  return error.issues.map((issue) => ({ path: formatPath(issue.path, root), message: issue.message }));
}

/** The same issues on one line, for logs and error messages: `entries[3]: Too big; os: Required`. */
export function describeIssues(error: z.ZodError, root = "(body)"): string {
  return issuesFrom(error, root)
    .map((issue) => `${issue.path}: ${issue.message}`)
    .join("; ");
}

function formatPath(path: ReadonlyArray<PropertyKey>, root: string): string {
  if (path.length === 0) return root;
  return path.map((part, i) => (typeof part === "number" ? `[${part}]` : `${i === 0 ? "" : "."}${String(part)}`)).join("");
}
