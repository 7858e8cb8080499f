/**
 * What the node does with a command from the cloud, and the ack it answers with. Each id is
 * carried out at most once (commands/store.ts): a redelivered id gets the stored result again.
 * Commands run one at a time in arrival order, so a duplicate that arrives while the first copy
 * is still being applied waits for it and then finds its result.
 *   CONFIG_CHANGE   → payload merged into config-overrides.json, ack "done".
 *   SOFTWARE_UPDATE → the updater (updater.ts): ack "done" once the new version is installed,
 *                     "failed" with the reason when it was refused or could not be installed.
 *                     After a "done" is on disk and returned (the live link sends it in the
 *                     same turn), restartInto() asks run.ts to restart into the new version;
 *                     a redelivered copy is then answered "done" from the store, by either version.
 *   expires_at past → ack "failed", detail "expired", nothing run.
 * Each command has a deadline of its own (deadlinesMs): past it the command is acked "failed"
 * with why, told to stop (an AbortSignal: the updater cuts its download), and the next command
 * runs. One command that hangs must never hold the ones queued behind it. An update that still
 * installs after its deadline (the commit was already under way) restarts into it all the same:
 * `current` already names it.
 * An ack's detail is scrubbed (scrub.ts) before it is stored or sent: a failure's reason can
 * name a path in the owner's home.
 * The result is on disk before the ack goes out. If the node dies between applying a
 * CONFIG_CHANGE and recording it, the cloud resends it and it is applied again, which a merge
 * patch makes harmless (config-overrides.ts).
 */
import type { CommandFrame } from "../../protocol/index.ts";
import type { CommandResult, CommandStore } from "./store.ts";
import { applyOverrides } from "./config-overrides.ts";
import type { Scrubber } from "../crash/scrub.ts";
import type { Updater } from "../update/updater.ts";
import { messageOf } from "../core/errors.ts";

export type CommandAck = { status: CommandResult["status"]; detail?: string };
export type CommandName = CommandFrame["command"];

/** Long enough for every download attempt of a large bundle on a slow line (update/download.ts). */
export const DEFAULT_COMMAND_DEADLINES_MS: Record<CommandName, number> = {
  CONFIG_CHANGE: 30_000,
  SOFTWARE_UPDATE: 30 * 60_000,
};

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
  /** The privacy filter every ack's detail passes before it is stored and sent. */
  scrub: Scrubber;
  /** Per command; absent ones take DEFAULT_COMMAND_DEADLINES_MS. */
  deadlinesMs?: Partial<Record<CommandName, number>>;
};

/** What carrying out a command came to; `installed` asks for a restart into that version. */
type Outcome = { ack: CommandAck; installed: string | null };

export type CommandHandler = (frame: CommandFrame) => Promise<CommandAck>;

export function commandHandler(deps: CommandHandlerDeps): CommandHandler {
  let queue: Promise<unknown> = Promise.resolve();
  const deadlines = { ...DEFAULT_COMMAND_DEADLINES_MS, ...deps.deadlinesMs };
  // A timer, not a call: the ack goes out in the microtasks after we return, before this runs.
  const restartSoon = (version: string): void => void setTimeout(() => deps.restartInto(version), 0);

  const carryOut = async (frame: CommandFrame, signal: AbortSignal): Promise<Outcome> => {
    const expiresAt = Date.parse(frame.expires_at);
    if (!Number.isNaN(expiresAt) && expiresAt <= deps.now()) return { ack: { status: "failed", detail: "expired" }, installed: null };
    switch (frame.command) {
      case "CONFIG_CHANGE": {
        try {
          const settings = await applyOverrides(deps.overridesFile, frame.payload);
          return {
            ack: { status: "done", detail: `settings now: ${Object.keys(settings).sort().join(", ") || "(none)"}`.slice(0, 1000) },
            installed: null,
          };
        } catch (error) {
          deps.countError();
          return {
            ack: {
              status: "failed",
              detail: `could not save the settings: ${messageOf(error)}`.slice(0, 1000),
            },
            installed: null,
          };
        }
      }
      case "SOFTWARE_UPDATE": {
        const result = await deps.update(frame.payload, { signal });
        if (result.status === "done") return { ack: { status: "done", detail: result.detail }, installed: result.installed };
        deps.countError();
        return { ack: { status: "failed", detail: result.detail }, installed: null };
      }
    }
  };

  /** carryOut, or a failed ack once the command's deadline has passed; the command is told to stop. */
  const carryOutWithin = (frame: CommandFrame): Promise<Outcome> => {
    const ms = deadlines[frame.command];
    const stopper = new AbortController();
    const work = carryOut(frame, stopper.signal);
    let timer: NodeJS.Timeout | undefined;
    const overdue = new Promise<Outcome>((resolve) => {
      timer = setTimeout(() => {
        const detail = `${frame.command} did not finish within ${Number((ms / 1000).toFixed(1))} s and was stopped`;
        stopper.abort(new Error(detail));
        deps.countError();
        // Whatever it still comes to is logged; an install that completed anyway is restarted into.
        work.then(
          (late) => {
            deps.log(
              `command ${frame.id} (${frame.command}) ended after its deadline: ${late.ack.status}${late.ack.detail ? ` (${late.ack.detail})` : ""}`,
            );
            if (late.installed !== null) restartSoon(late.installed);
          },
          (error: unknown) => deps.log(`command ${frame.id} (${frame.command}) failed after its deadline: ${messageOf(error)}`),
        );
        resolve({ ack: { status: "failed", detail }, installed: null });
      }, ms);
    });
    return Promise.race([work, overdue]).finally(() => clearTimeout(timer));
  };

  const handle = async (frame: CommandFrame): Promise<CommandAck> => {
    const earlier = deps.store.get(frame.id);
    if (earlier) {
      deps.log(`command ${frame.id} (${frame.command}) was already handled (${earlier.status}); answering again without running it`);
      return ackOf(earlier);
    }
    const outcome = await carryOutWithin(frame);
    const ack: CommandAck =
      outcome.ack.detail === undefined ? outcome.ack : { ...outcome.ack, detail: deps.scrub(outcome.ack.detail).slice(0, 1000) };
    const installed = outcome.installed;
    // Recorded before it is logged: a program killed in between runs the command again on its
    // resend (each command is safe to repeat), and the log then says "done" once, not twice.
    await deps.store.record({ id: frame.id, ...ack, at: new Date(deps.now()).toISOString() });
    deps.log(`command ${frame.id} (${frame.command}): ${ack.status}${ack.detail ? ` (${ack.detail})` : ""}`);
    if (installed !== null) restartSoon(installed);
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
