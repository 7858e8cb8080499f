#!/usr/bin/env node
/**
 * `buhdi-node`: argument parsing and exit codes only; each command lives in its own module.
 * Exit codes: 0 done, 1 failed (or reports still pending), 2 usage error or not enrolled.
 */
import { parseArgs } from "node:util";
import { NotEnrolledError, loadEnrollment } from "./core/config.ts";
import { homePaths, nodeHome } from "./core/paths.ts";
import { agentVersion } from "./core/version.ts";
import { messageOf } from "./core/errors.ts";

// Commands are imported when chosen: the supervisor, which idles next to every node program,
// must not carry the node program's modules in its memory.

const USAGE = `Usage:
  buhdi-node enroll <code> --server <url>   connect this computer to your Buhdi account
  buhdi-node run                            start the node and keep it running (restarted if it stops)
  buhdi-node report                         send pending crash reports now, then exit
  buhdi-node node                           the node program alone, without the supervisor (debugging)
  buhdi-node setup --code <code> --server <url>   install for this user, connect, start at login
  buhdi-node uninstall                      tell the cloud, stop, and remove Buhdi from this computer
  buhdi-node --version

Environment: BUHDI_NODE_HOME (default ~/.buhdi-node), BUHDI_NODE_PORT (default 9847),
  BUHDI_NODE_TRUSTED_KEYS (release keys to trust besides the built-in ones, for development).
`;

class UsageError extends Error {
  override name = "UsageError";
}

async function main(argv: string[]): Promise<number | undefined> {
  if (argv[0] === "setup" || argv[0] === "uninstall") return (await import("./setup/setup.ts")).setupCommand(argv);
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      server: { type: "string" },
      help: { type: "boolean", short: "h" },
      version: { type: "boolean", short: "v" },
    },
  });
  if (values.version) {
    process.stdout.write(`${agentVersion()}\n`);
    return 0;
  }
  const [command, ...rest] = positionals;
  if (values.help || command === undefined || command === "help") {
    process.stdout.write(USAGE);
    return command === undefined && !values.help ? 2 : 0;
  }
  const paths = homePaths(nodeHome());

  switch (command) {
    case "enroll": {
      const [code, ...extra] = rest;
      if (code === undefined || extra.length > 0) throw new UsageError("enroll takes exactly one code");
      if (!values.server) throw new UsageError("enroll needs --server <url>, e.g. --server https://mybuhdi.com");
      const { enroll } = await import("./enroll.ts");
      const enrollment = await enroll({ code, server: values.server, version: agentVersion(), paths });
      process.stdout.write(
        `Enrolled: this computer is node ${enrollment.node_id} on ${enrollment.server}.\nStart it with: buhdi-node run\n`,
      );
      return 0;
    }
    case "run":
      if (rest.length > 0) throw new UsageError("run takes no arguments");
      await (await import("./supervisor/supervisor.ts")).runSupervisor();
      return undefined; // the supervisor keeps the process alive until a signal
    case "node":
      if (rest.length > 0) throw new UsageError("node takes no arguments");
      await (await import("./program/run.ts")).runNode();
      return undefined; // the node program keeps the process alive until a signal
    case "report": {
      if (rest.length > 0) throw new UsageError("report takes no arguments");
      const { realCrashReporter } = await import("./program/node-context.ts");
      const reporter = realCrashReporter(paths, await loadEnrollment(paths), agentVersion());
      const summary = await reporter.report({ ignoreBackoff: true });
      const pending = summary.pending.length;
      process.stdout.write(`Delivered ${summary.delivered}, refused ${summary.rejected}, still waiting ${pending}.\n`);
      return pending === 0 ? 0 : 1;
    }
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== undefined) process.exitCode = code;
  },
  (error: unknown) => {
    // By name, not instanceof: enroll.ts (and zod with it) is only loaded by `enroll`.
    if (error instanceof Error && error.name === "EnrollError") {
      process.stderr.write(`${error.message}\n`);
      process.exitCode = 1;
    } else if (error instanceof NotEnrolledError) {
      process.stderr.write(`buhdi-node: ${error.message}\n`);
      process.exitCode = 2;
    } else if (error instanceof UsageError || isParseArgsError(error)) {
      process.stderr.write(`buhdi-node: ${messageOf(error)}\n\n${USAGE}`);
      process.exitCode = 2;
    } else {
      // Anything else is a bug: rethrow so `run`'s crash capture records it like any other crash.
      throw error;
    }
  },
);

function isParseArgsError(error: unknown): boolean {
  return error instanceof Error && "code" in error && typeof error.code === "string" && error.code.startsWith("ERR_PARSE_ARGS");
}
