/**
 * What `npm start` seeds so a person can try the edge at once: an owner "Nana" (kept across
 * restarts in the local state, recreated if that state was wiped) and a fresh one-time code
 * for a node "Kitchen Laptop", emailed to her as her invitation, plus the one command that
 * enrolls and runs an agent with it.
 * The agent's home is kept in the local state too (.wrangler/node), not in ~/.buhdi-node,
 * so trying it never touches a real installation on this computer.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { adminClient } from "./demo/admin-client.ts";

export type TryIt = {
  ownerId: string;
  dashboardToken: string;
  code: string;
  expiresAt: string;
  nodeHome: string;
  /** What became of her invitation email: "queued", or why not. */
  invitation: string;
};

export async function seedTryIt(url: string, adminToken: string, stateDir: string): Promise<TryIt> {
  const admin = adminClient(url, adminToken);
  const stateFile = path.join(stateDir, "try-it-owner.json");
  let owner = existsSync(stateFile) ? (JSON.parse(readFileSync(stateFile, "utf8")) as { owner_id: string; dashboard_token: string }) : null;
  const invite = (ownerId: string) => admin.enrollmentCode(ownerId, "Kitchen Laptop", { sendEmail: true });
  let enrollment = owner ? await invite(owner.owner_id).catch(() => null) : null;
  if (!owner || !enrollment) {
    // The email only has to be unique: a wiped D1 next to a kept state file gets a new owner.
    owner = await admin.createOwner(`nana+${Date.now()}@example.com`, "Nana");
    writeFileSync(stateFile, JSON.stringify(owner), { mode: 0o600 });
    enrollment = await invite(owner.owner_id);
  }
  return {
    ownerId: owner.owner_id,
    dashboardToken: owner.dashboard_token,
    code: enrollment.code,
    expiresAt: enrollment.expires_at,
    nodeHome: path.join(stateDir, "..", "node"),
    invitation:
      enrollment.email?.status === "queued" ? `queued to ${enrollment.email.to.join(", ")}` : (enrollment.email?.reason ?? "not asked for"),
  };
}

/** One shell command: enroll with the code, then run the node (supervisor + node program). */
export function enrollAndRunCommand(tryIt: TryIt, url: string, repoRoot: string, trustedKeys: string | null): string {
  const env = [
    `BUHDI_NODE_HOME=${path.relative(repoRoot, tryIt.nodeHome)}`,
    ...(trustedKeys ? [`BUHDI_NODE_TRUSTED_KEYS='${trustedKeys}'`] : []),
  ].join(" ");
  return `export ${env} && npm run agent -- enroll ${tryIt.code} --server ${url} && npm run agent -- run`;
}
