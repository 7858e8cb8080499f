/**
 * Every refusal the API gives is an ApiError: a status, a stable machine code
 * and a message a person can act on. `app.onError` turns it into the shared
 * error body; anything else thrown is a bug and becomes a logged 500.
 */
import type { z } from "zod";
import { type ApiErrorBody, type ApiIssue, issuesFrom } from "../../protocol/errors.ts";

export class ApiError extends Error {
  readonly status: 400 | 401 | 403 | 404 | 409 | 410 | 413 | 415 | 416 | 422 | 426 | 429 | 503;
  readonly code: string;
  readonly issues: ApiIssue[] | undefined;
  readonly headers: Record<string, string>;

  constructor(
    status: ApiError["status"],
    code: string,
    message: string,
    options: { issues?: ApiIssue[]; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.status = status;
    this.code = code;
    this.issues = options.issues;
    this.headers = options.headers ?? {};
  }

  toBody(): ApiErrorBody {
    return { error: { code: this.code, message: this.message, ...(this.issues ? { issues: this.issues } : {}) } };
  }
}

/** A 400 for input that failed its schema; `what` says which input ("body", "query"). */
export function invalid(what: string, error: z.ZodError): ApiError {
  const issues = issuesFrom(error);
  const first = issues[0];
  const summary = first ? `${first.path}: ${first.message}` : "invalid";
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : "";
  return new ApiError(400, `invalid_${what}`, `The request ${what} is not valid: ${summary}${more}.`, { issues });
}
