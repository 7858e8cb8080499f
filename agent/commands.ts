/**
 * What the node does with a command from the cloud, and the ack it answers with. Each id is
 * carried out at most once (command-store.ts): a redelivered id gets the stored result again.
 * Commands run one at a time in arrival order, so a duplicate that arrives while the first copy
 * is still being applied waits for it and then finds its result.
 *   CONFIG_CHANGE   → payload merged into config-overrides.json, ack "done".
 *   SOFTWARE_UPDATE → the updater (updater.ts): ack "done" once the new version is installed,
 *                     "failed" with the reason when it was refused or could not be installed.
 *                     After a "done" is on disk and returned (the live link sends it in the
 *                     same turn), restartInto() asks run.ts to restart into the new version;
 *                     a redelivered copy is then answered "done" from the store, by either version.
 *   expires_at past → ack "failed", detail "expired", nothing run.
 * The result is on disk before the ack goes out. If the node dies between applying a
 * CONFIG_CHANGE and recording it, the cloud resends it and it is applied again, which a merge
 * patch makes harmless (config-overrides.ts).
 */
import type { CommandFrame } from "../protocol/index.ts";
import type { CommandResult, CommandStore } from "./command-store.ts";
import { applyOverrides } from "./config-overrides.ts";
import type { Updater } from "./updater.ts";

export type CommandAck = { status: CommandResult["status"]; detail?: string };

export type CommandHandlerDeps = {
  store: CommandStore;
  overridesFile: string;
  now: () => number;
  log: (message: string) => void;
  /** A command that failed counts as an error the node survived. */
  countError: () => void;
  update: Updater;
  /** An update was installed and its "done" recorded: restart into it (after the ack is out). */
  restartInto: (version: string) => void;
};

export type CommandHandler = (frame: CommandFrame) => Promise<CommandAck>;

export function commandHandler(deps: CommandHandlerDeps): CommandHandler {
  let queue: Promise<unknown> = Promise.resolve();

  let installed: string | null = null;

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
      case "SOFTWARE_UPDATE": {
        const result = await deps.update(frame.payload);
        if (result.status === "done") {
          installed = result.installed;
          return { status: "done", detail: result.detail };
        }
        deps.countError();
        return { status: "failed", detail: result.detail };
      }
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
    if (installed !== null) {
      const version = installed;
      installed = null;
      // A timer, not a call: the ack goes out in the microtasks after we return, before this runs.
      setTimeout(() => deps.restartInto(version), 0);
    }
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
