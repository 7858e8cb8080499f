/**
 * What the node does with a command from the cloud, and the ack it answers with. Each id is
 * carried out at most once (command-store.ts): a redelivered id gets the stored result again.
 * Commands run one at a time in arrival order, so a duplicate that arrives while the first copy
 * is still being applied waits for it and then finds its result.
 *   CONFIG_CHANGE   → payload merged into config-overrides.json, ack "done".
 *   SOFTWARE_UPDATE → ack "rejected": this version has no update pipeline yet (a later issue);
 *                     saying so is honest, a "done" would tell IT Support a fix was installed.
 *   expires_at past → ack "failed", detail "expired", nothing run.
 * The result is on disk before the ack goes out. If the node dies between applying a
 * CONFIG_CHANGE and recording it, the cloud resends it and it is applied again, which a merge
 * patch makes harmless (config-overrides.ts).
 */
import type { CommandFrame } from "../protocol/index.ts";
import type { CommandResult, CommandStore } from "./command-store.ts";
import { applyOverrides } from "./config-overrides.ts";

export type CommandAck = { status: CommandResult["status"]; detail?: string };

export type CommandHandlerDeps = {
  store: CommandStore;
  overridesFile: string;
  version: string;
  now: () => number;
  log: (message: string) => void;
  /** A command that failed counts as an error the node survived. */
  countError: () => void;
};

export type CommandHandler = (frame: CommandFrame) => Promise<CommandAck>;

export function commandHandler(deps: CommandHandlerDeps): CommandHandler {
  let queue: Promise<unknown> = Promise.resolve();

  const carryOut = async (frame: CommandFrame): Promise<CommandAck> => {
    const expiresAt = Date.parse(frame.expires_at);
    if (!Number.isNaN(expiresAt) && expiresAt <= deps.now()) return { status: "failed", detail: "expired" };
    switch (frame.command) {
      case "CONFIG_CHANGE": {
        try {
          const settings = await applyOverrides(deps.overridesFile, frame.payload);
          return { status: "done", detail: `settings now: ${Object.keys(settings).sort().join(", ") || "(none)"}`.slice(0, 1000) };
        } catch (error) {
          deps.countError();
          return { status: "failed", detail: `could not save the settings: ${error instanceof Error ? error.message : String(error)}`.slice(0, 1000) };
        }
      }
      case "SOFTWARE_UPDATE":
        return { status: "rejected", detail: `this node (version ${deps.version}) cannot install updates yet; update it by hand` };
    }
  };

  const handle = async (frame: CommandFrame): Promise<CommandAck> => {
    const earlier = deps.store.get(frame.id);
    if (earlier) {
      deps.log(`command ${frame.id} (${frame.command}) was already handled (${earlier.status}); answering again without running it`);
      return ackOf(earlier);
    }
    const ack = await carryOut(frame);
    deps.log(`command ${frame.id} (${frame.command}): ${ack.status}${ack.detail ? ` (${ack.detail})` : ""}`);
    await deps.store.record({ id: frame.id, ...ack, at: new Date(deps.now()).toISOString() });
    return ack;
  };

  return (frame) => {
    const result = queue.then(() => handle(frame));
    queue = result.catch(() => undefined);
    return result;
  };
}

function ackOf(result: CommandResult): CommandAck {
  return result.detail === undefined ? { status: result.status } : { status: result.status, detail: result.detail };
}
