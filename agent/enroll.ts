/**
 * `buhdi-node enroll`: trades a one-time code for this node's id and secret key, then stores
 * them. Errors come back as sentences a non-technical owner can act on ("ask for a new code"),
 * and say whether trying again later can help (EnrollError.retryable):
 *   - retryable: no answer (network down, DNS, timeout), the cloud failing (5xx), too many
 *     requests (429), or an answer that is not the cloud's own API (a captive portal's page, a
 *     proxy's error): the code is still good, the cloud just was not reached;
 *   - not retryable: the cloud itself refused the code (its API error: unknown, used, expired,
 *     invalid), or the code or server address is malformed. Trying again cannot change that.
 */
import { EnrollRequestSchema, EnrollResponseSchema } from "../protocol/index.ts";
import { describeNetworkError, readApiError } from "./outbox/api-error.ts";
import { parseRetryAfter } from "./core/backoff.ts";
import { normalizeServer, saveEnrollment } from "./core/config.ts";
import type { Enrollment } from "./core/config.ts";
import type { HomePaths } from "./core/paths.ts";
import { describeIssues } from "../protocol/errors.ts";

export class EnrollError extends Error {
  override name = "EnrollError";
  /** True when the cloud was not reached (or not itself): the same code may work later. */
  readonly retryable: boolean;
  /** The cloud's Retry-After, when it gave one. */
  readonly retryAfterMs: number | null;

  constructor(message: string, options: { retryable?: boolean; retryAfterMs?: number | null } = {}) {
    super(message);
    this.retryable = options.retryable ?? false;
    this.retryAfterMs = options.retryAfterMs ?? null;
  }
}

export type EnrollOptions = {
  code: string;
  server: string;
  version: string;
  paths: HomePaths;
  platform?: string;
  arch?: string;
  fetchImpl?: typeof fetch;
  timeoutMs?: number;
};

/** Only for answers that are not the API's own (a proxy's page): the API's messages say what to do. */
const HINT_BY_STATUS: Record<number, string> = {
  404: "Check the server address.",
  410: "Ask for a new code.",
};

export async function enroll(options: EnrollOptions): Promise<Enrollment> {
  let server: string;
  try {
    server = normalizeServer(options.server);
  } catch {
    throw new EnrollError(`"${options.server}" is not a server address. Use something like https://mybuhdi.com`);
  }
  // Checked here too so a typo gets an answer without a round trip, and the code is normalized
  // (trimmed, upper-cased) the same way the server does.
  const request = EnrollRequestSchema.safeParse({
    code: options.code,
    os: options.platform ?? process.platform,
    arch: options.arch ?? process.arch,
    version: options.version,
  });
  if (!request.success) {
    const why = describeIssues(request.error, "request");
    throw new EnrollError(`Cannot enroll: ${why}.`);
  }

  const fetchImpl = options.fetchImpl ?? fetch;
  let response: Response;
  try {
    response = await fetchImpl(`${server}/api/enroll`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(request.data),
      signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
    });
  } catch (error) {
    throw new EnrollError(
      `Could not reach ${server}: ${describeNetworkError(error)}. Check the internet connection and the server address.`,
      { retryable: true },
    );
  }

  if (response.status !== 201 && !response.ok) {
    const retryAfterMs = parseRetryAfter(response.headers.get("retry-after"), Date.now());
    const info = await readApiError(response);
    const hint = info.code === null ? HINT_BY_STATUS[info.status] : undefined;
    const message = info.message.replace(/[.\s]+$/, "");
    // Only the API's own refusal is final; anything in the way of it may be gone later.
    const retryable = info.code === null || info.status >= 500 || info.status === 429;
    throw new EnrollError(`Enrollment failed: ${message}.${hint ? ` ${hint}` : ""}`, { retryable, retryAfterMs });
  }
  const body: unknown = await response.json().catch(() => null);
  const parsed = EnrollResponseSchema.safeParse(body);
  if (!parsed.success) {
    throw new EnrollError(`Enrollment failed: the server's answer (${response.status}) did not contain a node id and key.`, {
      retryable: true,
    });
  }
  const enrollment: Enrollment = { server, node_id: parsed.data.node_id, key: parsed.data.node_key };
  await saveEnrollment(options.paths, enrollment);
  return enrollment;
}
