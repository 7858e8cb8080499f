/**
 * The agent's version, in one place: enrollment, telemetry, /health and the updater all report
 * it. A release bundle (scripts/build-agent.ts) has its version baked in by esbuild's `define`,
 * and that always wins: the bundle IS that version, and a stray BUHDI_NODE_VERSION in the
 * environment must not make it claim another (it would then refuse its own successor, or take an
 * older one). Run from source, the version is AGENT_VERSION, and fixture runs (tests, staged
 * rollouts) may override it with BUHDI_NODE_VERSION instead of editing code.
 */
export const AGENT_VERSION = "0.3.0";

/** Replaced by a string literal in release bundles; undeclared (typeof "undefined") from source. */
declare const __BUHDI_NODE_BUNDLE_VERSION__: string | undefined;

const BUNDLE_VERSION: string | null = typeof __BUHDI_NODE_BUNDLE_VERSION__ === "string" ? __BUHDI_NODE_BUNDLE_VERSION__ : null;

/** The name esbuild's `define` must replace (scripts/build-agent.ts). */
export const BUNDLE_VERSION_DEFINE = "__BUHDI_NODE_BUNDLE_VERSION__";

/** True when this code runs from a release bundle rather than from the TypeScript sources. */
export function isReleaseBundle(): boolean {
  return BUNDLE_VERSION !== null;
}

export function agentVersion(env: NodeJS.ProcessEnv = process.env): string {
  if (BUNDLE_VERSION !== null) return BUNDLE_VERSION;
  const override = env.BUHDI_NODE_VERSION?.trim();
  return override ? override : AGENT_VERSION;
}
