/**
 * Where the agent keeps its state. One function builds every path so no other file guesses a
 * file name; BUHDI_NODE_HOME moves the whole home (tests, several nodes on one machine).
 */
import os from "node:os";
import path from "node:path";

export type HomePaths = {
  home: string;
  /** {server, node_id}: not secret. */
  config: string;
  /** The node's secret key, alone in its own file so it can be 0600. */
  key: string;
  /**
   * A setup code not spent yet, kept (0600) when setup could not reach the cloud; `run` enrolls
   * with it once the cloud answers, then deletes it (core/pending-enrollment.ts).
   */
  pendingEnrollment: string;
  crashLog: string;
  crashLogPrev: string;
  /** One JSON file per telemetry event not yet accepted by the cloud. */
  spool: string;
  /** Events the cloud said it will never accept, kept for a human to look at. */
  rejected: string;
  /** Settings the cloud changed with CONFIG_CHANGE commands (a JSON object). */
  configOverrides: string;
  /** The cloud commands this node has carried out, with their results (each runs once). */
  handledCommands: string;
  /** Installed releases side by side: versions/<version>/ (bundle, manifest, signature). */
  versions: string;
  /** A small file naming the version the supervisor runs; absent: the agent it was started from. */
  current: string;
  /** Names the version kept for rollback (dist.prev/); absent: the agent it was started from. */
  previous: string;
  /** The newest install still inside its rollback window: {version, installed_at}. */
  updateTrial: string;
  /** Versions this node rolled back from: never installed here again. */
  rolledBack: string;
  /** Bundles being downloaded (<sha256>.part); moved into versions/ only once verified. */
  downloads: string;
  /** {pid, port, url, version, started_at} of the node program that holds the local endpoint. */
  endpoint: string;
};

export function nodeHome(env: NodeJS.ProcessEnv = process.env): string {
  const override = env.BUHDI_NODE_HOME?.trim();
  return override ? path.resolve(override) : path.join(os.homedir(), ".buhdi-node");
}

export function homePaths(home: string): HomePaths {
  const spool = path.join(home, "spool");
  return {
    home,
    config: path.join(home, "config.json"),
    key: path.join(home, "node.key"),
    pendingEnrollment: path.join(home, "pending-enrollment.json"),
    crashLog: path.join(home, "crash.log"),
    crashLogPrev: path.join(home, "crash.log.prev"),
    spool,
    rejected: path.join(spool, "rejected"),
    configOverrides: path.join(home, "config-overrides.json"),
    handledCommands: path.join(home, "commands-handled.json"),
    versions: path.join(home, "versions"),
    current: path.join(home, "current"),
    previous: path.join(home, "previous"),
    updateTrial: path.join(home, "update-trial.json"),
    rolledBack: path.join(home, "rolled-back.json"),
    downloads: path.join(home, "downloads"),
    endpoint: path.join(home, "endpoint.json"),
  };
}
