/**
 * The agent's version, in one place: enrollment, telemetry and /health all report it, and
 * fixture builds (tests, staged rollouts) override it with BUHDI_NODE_VERSION instead of
 * editing code.
 */
export const AGENT_VERSION = "0.3.0";

export function agentVersion(env: NodeJS.ProcessEnv = process.env): string {
  const override = env.BUHDI_NODE_VERSION?.trim();
  return override ? override : AGENT_VERSION;
}
