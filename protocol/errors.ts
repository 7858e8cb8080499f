/** The one error body every 4xx/5xx of the API uses, so clients parse errors in one way. */
export type ApiIssue = { path: string; message: string };
export type ApiErrorBody = { error: { code: string; message: string; issues?: ApiIssue[] } };
