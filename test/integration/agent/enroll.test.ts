/**
 * `buhdi-node enroll` when it cannot succeed: every refusal ends as a plain sentence on stderr,
 * a non-zero exit and no identity written. The refusals come from a real HTTP server answering
 * in the API's error format; enrollment that succeeds is pinned against the real edge in
 * crash-reporting.test.ts.
 */
import { readdir } from "node:fs/promises";
import { afterEach, describe, expect, it } from "vitest";
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
