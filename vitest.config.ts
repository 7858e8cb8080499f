/**
 * Two kinds of tests:
 *  - worker: run inside workerd (the real Workers runtime) with D1, Queue and
 *    rate-limit bindings from wrangler.toml, migrations applied per test file;
 *  - node: the agent as plain Node code and real processes against a real local
 *    edge (wrangler dev), plus the end-to-end crash test;
 *  - soak: the one-minute soak, alone, after the other two.
 */
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

const migrations = await readD1Migrations("./migrations");
const SOAK = "test/integration/soak/soak.test.ts";

export default defineConfig({
  test: {
    silent: "passed-only",
    // Most files wait on other processes (an edge, agents, chromium, Wine), not on the CPU: two
    // at a time, not vitest's default of one (cores − 1). Three was faster still, but in stress
    // runs (a second core kept busy) the three heaviest files starting together starved each other.
    maxWorkers: 2,
    projects: [
      {
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: { TEST_MIGRATIONS: migrations, ADMIN_TOKEN: "test-admin-token-0123456789abcdef" },
            },
          }),
        ],
        test: {
          name: "worker",
          // Generous: a loaded 2-core machine was seen taking over 10 s (the default) to set a file up.
          testTimeout: 60_000,
          hookTimeout: 120_000,
          include: ["test/worker/**/*.test.ts"],
          setupFiles: ["test/worker/apply-migrations.ts"],
        },
      },
      {
        test: {
          name: "node",
          environment: "node",
          include: ["test/agent/**/*.test.ts", "test/integration/**/*.test.ts", "test/e2e/**/*.test.ts", "test/browser/**/*.test.ts"],
          exclude: [SOAK],
          setupFiles: ["test/support/after-file.ts"],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          // The soak loads both cores on purpose (an edge, agents, simulated nodes, a fault proxy):
          // it runs alone, after every other file, so it cannot starve a browser or Wine test
          // beside it (CI once saw IT Support's sign-in time out while it ran).
          name: "soak",
          environment: "node",
          include: [SOAK],
          setupFiles: ["test/support/after-file.ts"],
          sequence: { groupOrder: 1 },
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
