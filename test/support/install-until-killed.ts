/**
 * Child process for the kill -9 test: installs a release into a node home with the agent's own
 * installRelease, exactly as the updater does after a verified download, and SIGKILLs itself
 * just before the step named on its command line ("none": runs to the end). A real process,
 * killed for real, at every point where the install changes the disk.
 *   node install-until-killed.ts <home> <step|none> <signed-release.json> <bundle>
 * The running version (what `previous` is decided from) is BUHDI_NODE_VERSION's.
 */
import { copyFile, mkdir, readFile } from "node:fs/promises";
import { installRelease } from "../../agent/update/install.ts";
import { homePaths } from "../../agent/core/paths.ts";
import { partFileOf } from "../../agent/update/download.ts";
import { verifyRelease } from "../../agent/update/verify.ts";
import { loadKeyring } from "../../agent/update/trusted-keys.ts";
import { agentVersion } from "../../agent/core/version.ts";

const [home, killAt, releaseFile, bundleFile] = process.argv.slice(2);
if (!home || !killAt || !releaseFile || !bundleFile) throw new Error("usage: <home> <step|none> <release.json> <bundle>");
const paths = homePaths(home);
const runningVersion = agentVersion();
const verdict = verifyRelease(JSON.parse(await readFile(releaseFile, "utf8")), {
  keys: loadKeyring(process.env, (m) => process.stderr.write(`${m}\n`)),
  now: Date.now(),
  runningVersion,
  rolledBack: new Set(),
});
if (!verdict.ok) throw new Error(verdict.refusal.reason);
// Where the download leaves a verified bundle.
await mkdir(paths.downloads, { recursive: true });
const part = partFileOf(paths.downloads, verdict.value.manifest.sha256);
await copyFile(bundleFile, part);
await installRelease({
  paths,
  verified: verdict.value,
  bundleFile: part,
  runningVersion,
  now: new Date(),
  onStep: (step) => {
    if (step === killAt) process.kill(process.pid, "SIGKILL");
  },
});
