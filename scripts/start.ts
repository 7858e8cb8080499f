/**
 * `npm start`: the local edge for a person to try. Generates an ADMIN_TOKEN
 * into .dev.vars on first run (git-ignored), migrates and seeds the local D1,
 * serves the Worker on http://127.0.0.1:8787 (PORT to change it), prints how
 * to use it, prints each email the edge sends in full (the local send_email
 * binding delivers nothing), and stops everything on Ctrl-C.
 */
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { REPO_ROOT, startLocalEdge } from "./local-edge.ts";
import { formatEmail } from "./local-email.ts";
import { localReleaseKeys, trustedKeysVar } from "./release-key.ts";
import { enrollAndRunCommand, seedTryIt } from "./try-it.ts";

const DEV_VARS = path.join(REPO_ROOT, ".dev.vars");
/** Local stand-ins: the sender of every email and the person escalations go to. */
const LOCAL_EMAIL = { EMAIL_FROM: "it-support@buhdi.test", ESCALATION_EMAIL_TO: "kriz@buhdi.test" };

function adminTokenFromDevVars(): { token: string; created: boolean } {
  const existing = existsSync(DEV_VARS) ? readFileSync(DEV_VARS, "utf8") : "";
  const match = existing.match(/^ADMIN_TOKEN\s*=\s*"?([^"\n]+)"?\s*$/m);
  if (match?.[1]) return { token: match[1], created: false };
  const token = randomBytes(32).toString("base64url");
  const prefix = existing && !existing.endsWith("\n") ? `${existing}\n` : existing;
  writeFileSync(DEV_VARS, `${prefix}ADMIN_TOKEN="${token}"\n`, { mode: 0o600 });
  return { token, created: true };
}

const { token, created } = adminTokenFromDevVars();
const port = Number(process.env.PORT ?? 8787);
console.log(created ? "Generated a new ADMIN_TOKEN into .dev.vars." : "Using the ADMIN_TOKEN in .dev.vars.");
console.log("Migrating the local D1 and starting the edge…");

// The local edge trusts the release keys in .keys/ (npm run release:keygen), so `npm run release` works locally.
const releaseKeys = localReleaseKeys();
const edge = await startLocalEdge({
  port,
  persistDir: path.join(REPO_ROOT, ".wrangler", "state"),
  adminToken: token,
  inheritOutput: true,
  vars: { ...LOCAL_EMAIL, ...(releaseKeys.length > 0 ? { RELEASE_PUBLIC_KEYS: trustedKeysVar(releaseKeys) } : {}) },
  onEmail: (email) =>
    console.log(`\nAn email left the edge (sent locally to no one; this is what ${email.to} would get):\n${formatEmail(email)}\n`),
  keepEmailHtmlIn: path.join(REPO_ROOT, ".wrangler", "emails"),
});

const stateDir = path.join(REPO_ROOT, ".wrangler", "state");
const tryIt = await seedTryIt(edge.url, token, stateDir);
const keysVar = releaseKeys.length > 0 ? trustedKeysVar(releaseKeys) : null;
const nanaLink = await signInLink(edge.url, token, tryIt.ownerId);

console.log(`
Buhdi fleet edge is running.

  URL          ${edge.url}
  ADMIN_TOKEN  ${token}
  Owner        "Nana" (${tryIt.ownerId}), dashboard token ${tryIt.dashboardToken}

Dashboards (in a browser):
  Nana         ${nanaLink.url}
               (one-time sign-in link, valid until ${nanaLink.expires_at})
  IT Support   ${edge.url}/auth/support   (sign in with the ADMIN_TOKEN above)

Enroll and run a node ("Kitchen Laptop", one-time code ${tryIt.code}, valid until ${tryIt.expiresAt}), in another terminal:

  ${enrollAndRunCommand(tryIt, edge.url, REPO_ROOT, keysVar)}

Nana's invitation email (setup link and a sign-in link): ${tryIt.invitation}; it is printed here when
the Queue sends it, and so is every escalation email to ${LOCAL_EMAIL.ESCALATION_EMAIL_TO}.

Then watch it:  curl -s ${edge.url}/api/nodes -H "authorization: Bearer ${token}"
${
  keysVar
    ? `Release to it:  npm run release -- <version>      (trusted release keys: ${releaseKeys.map((k) => k.keyId).join(", ")})`
    : "Releases:       npm run release:keygen, restart npm start, then npm run release -- <version>"
}
The whole scenario without typing: npm run demo.   Ctrl-C stops the edge.
`);

/** A one-time dashboard sign-in link for the owner (15 minutes). */
async function signInLink(url: string, adminToken: string, ownerId: string): Promise<{ url: string; expires_at: string }> {
  const res = await fetch(`${url}/api/admin/owners/${ownerId}/sign-in-link`, {
    method: "POST",
    headers: { authorization: `Bearer ${adminToken}` },
  });
  if (res.status !== 201) throw new Error(`sign-in link: ${res.status} ${await res.text()}`);
  return (await res.json()) as { url: string; expires_at: string };
}

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    await edge.stop();
    process.exit(0);
  });
}
