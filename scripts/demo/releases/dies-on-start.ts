/**
 * The entry point of a release that dies on start (the demo's 0.3.2, and the rollback tests'): bundled by
 * scripts/build-agent.ts like the real agent (so it is a genuine, signed, installable release),
 * it installs the agent's own crash capture and then throws, as a release with a fatal
 * start-up bug would. Its crash record lands in crash.log the way a real one does.
 */
import { installCrashCapture } from "../../../agent/crash/capture.ts";
import { homePaths, nodeHome } from "../../../agent/core/paths.ts";
import { SUPERVISED_ENV } from "../../../agent/supervisor/supervised.ts";
import { agentVersion } from "../../../agent/core/version.ts";

installCrashCapture(homePaths(nodeHome()).crashLog, { supervised: process.env[SUPERVISED_ENV] === "1" });
setTimeout(() => {
  throw new Error(`buhdi-node ${agentVersion()} cannot start: settings.json has no "port"`);
}, 0);
