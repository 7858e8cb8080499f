/**
 * Installers for tests, built the way `npm run release` builds them and cached under
 * .tmp/test-installers/ by the bundle's SHA-256: unchanged sources are built once, across test
 * files and runs.
 */
import path from "node:path";
import { buildAgent } from "../../scripts/build-agent.ts";
import { type BuiltInstaller, buildInstallers, type InstallerPlatform } from "../../scripts/build-installers.ts";
import { REPO_ROOT } from "./helpers.ts";

export const TEST_INSTALLER_VERSION = "0.3.0";

/** No edge address is baked in: tests pass it (`--server`, or SERVER= to msiexec). */
export async function testInstaller(platform: InstallerPlatform): Promise<BuiltInstaller> {
  const root = path.join(REPO_ROOT, ".tmp", "test-installers");
  const agent = await buildAgent({ version: TEST_INSTALLER_VERSION, outDir: path.join(root, `agent-${platform}`) });
  const [built] = await buildInstallers({ version: TEST_INSTALLER_VERSION, agent, platforms: [platform], outDir: root, log: () => {} });
  return built!;
}
