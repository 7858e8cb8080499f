// The test runtime's env: the Worker's bindings plus the migrations the setup file applies.
import type { Env as WorkerEnv } from "../../worker/env.ts";

declare global {
  // Vite's import.meta.glob, which the test build supports (the crash corpus is loaded with it).
  interface ImportMeta {
    glob<T>(pattern: string, options: { query: "?raw"; import: "default"; eager: true }): Record<string, T>;
  }
  namespace Cloudflare {
    interface Env extends WorkerEnv {
      TEST_MIGRATIONS: D1Migration[];
    }
    interface GlobalProps {
      mainModule: typeof import("../../worker/index.ts");
    }
  }
}
