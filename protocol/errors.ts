/** The one error body every 4xx/5xx of the API uses, so clients parse errors in one way. */
import type { z } from "zod";

export type ApiIssue = { path: string; message: string };
export type ApiErrorBody = { error: { code: string; message: string; issues?: ApiIssue[] } };

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
  return path
    .map((part, i) => (typeof part === "number" ? `[${part}]` : `${i === 0 ? "" : "."}${String(part)}`))
    .join("");
}
