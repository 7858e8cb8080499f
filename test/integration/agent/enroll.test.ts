/**
 * `buhdi-node enroll` when it cannot succeed: every refusal ends as a plain sentence on stderr,
 * a non-zero exit and no identity written. The refusals come from a real HTTP server answering
 * in the API's error format; enrollment that succeeds is pinned against the real edge in
 * crash-reporting.test.ts.
 */
import { readdir } from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { enroll, EnrollError } from "../../../agent/enroll.ts";
import { homePaths } from "../../../agent/core/paths.ts";
import { apiError, closedPortUrl, runCli, startReceiver, tempHome } from "../../support/helpers.ts";
import type { Reply } from "../../support/helpers.ts";

const CODE = "ABCD-EFGH-JKMN-PQRS";
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

async function enrollAgainst(reply: Reply, code = CODE) {
  const receiver = await startReceiver(() => reply);
  closers.push(receiver.close);
  const home = await tempHome();
  const result = await runCli(["enroll", code, "--server", receiver.url], { BUHDI_NODE_HOME: home });
  return { result, receiver, files: await readdir(home) };
}

describe("enroll refusals", () => {
  it.each([
    [404, "enrollment_code_unknown", "This enrollment code does not exist; check it or ask for a new one."],
    [410, "enrollment_code_used", "This enrollment code was already used; ask for a new one."],
    [410, "enrollment_code_expired", "This enrollment code has expired; ask for a new one."],
  ])("a %i (%s) prints the server's message, exits 1 and writes nothing", async (status, code, message) => {
    const { result, files } = await enrollAgainst(apiError(status, code, message));
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(`Enrollment failed: ${message}`);
    expect(files).toEqual([]);
  });

  it("a 400 lists what was wrong", async () => {
    const reply: Reply = {
      status: 400,
      body: {
        error: {
          code: "invalid_body",
          message: "The request body is not valid",
          issues: [{ path: "version", message: "must be a version like 0.3.1" }],
        },
      },
    };
    const { result } = await enrollAgainst(reply);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("Enrollment failed: The request body is not valid (version: must be a version like 0.3.1).");
  });

  it("sends the normalized code with this machine's os, arch and the agent version", async () => {
    const { receiver } = await enrollAgainst(apiError(404, "enrollment_code_unknown", "nope"), " abcd-efgh-jkmn-pqrs ");
    expect(receiver.requests[0]?.url).toBe("/api/enroll");
    expect(JSON.parse(receiver.requests[0]?.body ?? "")).toEqual({
      code: CODE,
      os: process.platform,
      arch: process.arch,
      version: "0.3.0",
    });
  });

  it("a code that cannot be a code is refused before anything is sent", async () => {
    const { result, receiver } = await enrollAgainst(apiError(500, "x", "should not be asked"), "hello");
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/Cannot enroll: code: must be an enrollment code like ABCD-EFGH-JKMN-PQRS/);
    expect(receiver.requests).toEqual([]);
  });

  it("an unreachable server is named with the reason", async () => {
    const server = await closedPortUrl();
    const home = await tempHome();
    const result = await runCli(["enroll", CODE, "--server", server], { BUHDI_NODE_HOME: home });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`Could not reach ${server}: ECONNREFUSED`);
    expect(await readdir(home)).toEqual([]);
  });

  it("a missing --server is a usage error (exit 2)", async () => {
    const result = await runCli(["enroll", CODE], { BUHDI_NODE_HOME: await tempHome() });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("enroll needs --server <url>");
  });
});

/** What setup and `run` decide from: was the cloud not reached (retry later) or did it refuse the code (final)? */
describe("whether a failed enrollment may be retried", () => {
  async function failureFrom(server: string): Promise<EnrollError> {
    const home = await tempHome();
    const error = await enroll({ code: CODE, server, version: "0.3.0", paths: homePaths(path.join(home, "home")) }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(EnrollError);
    expect(await readdir(home)).toEqual([]);
    return error as EnrollError;
  }
  async function failureAnswering(reply: Reply): Promise<EnrollError> {
    const receiver = await startReceiver(() => reply);
    closers.push(receiver.close);
    return failureFrom(receiver.url);
  }

  it("no server listening: retryable", async () => {
    expect(await failureFrom(await closedPortUrl())).toMatchObject({ retryable: true, retryAfterMs: null });
  });

  it.each([
    ["the cloud failing (503, its own error)", apiError(503, "unavailable", "Try again later")],
    ["a 500 with no body", { status: 500 }],
    ["a proxy's or captive portal's page (404, not the API's error format)", { status: 404, body: "<html>Sign in to the Wi-Fi</html>" }],
    ["a 200 that is not an enrollment (a captive portal's page)", { status: 200, body: "<html>Welcome</html>" }],
  ])("%s: retryable", async (_what, reply) => {
    expect((await failureAnswering(reply)).retryable).toBe(true);
  });

  it("too many requests: retryable, not before the Retry-After", async () => {
    const reply: Reply = { ...apiError(429, "rate_limited", "Slow down"), headers: { "retry-after": "42" } };
    expect(await failureAnswering(reply)).toMatchObject({ retryable: true, retryAfterMs: 42_000 });
  });

  it.each([
    [404, "enrollment_code_unknown"],
    [410, "enrollment_code_used"],
    [410, "enrollment_code_expired"],
    [400, "invalid_body"],
  ])("the cloud's own %i (%s): final, not retried", async (status, code) => {
    const failure = await failureAnswering(apiError(status, code, "No."));
    expect(failure.retryable).toBe(false);
    expect(failure.message).toBe("Enrollment failed: No.");
  });
});
