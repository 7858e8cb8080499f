/**
 * Turns a non-2xx answer from the cloud into one readable sentence. Every endpoint answers
 * errors as {error:{code,message,issues?}} (protocol/errors.ts); anything else (a proxy's HTML
 * page, an empty body) still gets a useful line instead of a parse failure.
 */
import type { ApiErrorBody } from "../../protocol/index.ts";

export type ApiErrorInfo = { status: number; code: string | null; message: string };

function isApiErrorBody(value: unknown): value is ApiErrorBody {
  if (typeof value !== "object" || value === null || !("error" in value)) return false;
  const error: unknown = value.error;
  return typeof error === "object" && error !== null && "message" in error && typeof error.message === "string";
}

export async function readApiError(response: Response): Promise<ApiErrorInfo> {
  const text = await response.text().catch(() => "");
  return parseApiError(response.status, response.statusText, text);
}

/** The same, from a body already read (a request made without fetch). */
export function parseApiError(status: number, statusText: string, text: string): ApiErrorInfo {
  let body: unknown = null;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON: fall through to the status line.
  }
  if (isApiErrorBody(body)) {
    const issues = (body.error.issues ?? []).map((issue) => (issue.path ? `${issue.path}: ${issue.message}` : issue.message));
    const message = issues.length > 0 ? `${body.error.message} (${issues.join("; ")})` : body.error.message;
    return { status, code: body.error.code, message };
  }
  const statusLine = `${status} ${statusText}`.trim();
  return { status, code: null, message: `the server answered ${statusLine}` };
}

/** fetch() hides the real reason (ECONNREFUSED, ENOTFOUND...) in error.cause. */
export function describeNetworkError(error: unknown): string {
  if (error instanceof Error) {
    if (error.name === "TimeoutError") return "the server did not answer in time";
    const cause: unknown = error.cause;
    if (cause instanceof Error) {
      const code = "code" in cause && typeof cause.code === "string" ? cause.code : null;
      return code ? `${code} (${cause.message})` : cause.message;
    }
    return error.message;
  }
  return String(error);
}
