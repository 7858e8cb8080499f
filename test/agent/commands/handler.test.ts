/**
 * Cloud commands on a real home directory: what each command does, that an id is carried out
 * once however often it arrives (also after a restart), and that the settings file is merged,
 * not replaced.
 */
import { readFile, writeFile } from "node:fs/promises";
import { describe, expect, it, vi } from "vitest";
import type { CommandFrame } from "../../../protocol/index.ts";
import { commandHandler } from "../../../agent/commands/handler.ts";
import { MAX_HANDLED, openCommandStore } from "../../../agent/commands/store.ts";
import { mergePatch } from "../../../agent/commands/config-overrides.ts";
import { homePaths } from "../../../agent/core/paths.ts";
import { makeScrubber } from "../../../agent/crash/scrub.ts";
import type { Updater } from "../../../agent/update/updater.ts";
import { tempHome } from "../../support/helpers.ts";
import { eventually } from "../../support/live-node.ts";

const NOW = Date.parse("2026-11-28T13:00:00.000Z");
const OWNER = { homedir: "/home/Nana Smith", username: "nana" };

function command(overrides: Partial<CommandFrame> = {}): CommandFrame {
  return {
    type: "command",
    id: crypto.randomUUID(),
    command: "CONFIG_CHANGE",
    payload: { log_level: "debug" },
    expires_at: new Date(NOW + 3_600_000).toISOString(),
    ...overrides,
  };
}

async function setup(
  update: Updater = async () => ({ status: "failed", code: "test", detail: "no updates in this test" }),
  extra: Partial<Parameters<typeof commandHandler>[0]> = {},
) {
  const paths = homePaths(await tempHome());
  const logs: string[] = [];
  const restarts: string[] = [];
  let errors = 0;
  const open = async () =>
    commandHandler({
      store: await openCommandStore(paths.handledCommands, (m) => logs.push(m)),
      overridesFile: paths.configOverrides,
      now: () => NOW,
      log: (m) => logs.push(m),
      countError: () => (errors += 1),
      update,
      restartInto: (version) => restarts.push(version),
      scrub: makeScrubber(OWNER),
      ...extra,
    });
  const overrides = async () => JSON.parse(await readFile(paths.configOverrides, "utf8")) as unknown;
  return { paths, logs, open, overrides, restarts, errors: () => errors };
}

describe("CONFIG_CHANGE", () => {
  it("merges the payload into config-overrides.json and acks done", async () => {
    const { open, overrides, paths } = await setup();
    await writeFile(paths.configOverrides, JSON.stringify({ keep: 1, log_level: "info" }));
    const handle = await open();
    expect(await handle(command())).toMatchObject({ status: "done" });
    expect(await overrides()).toEqual({ keep: 1, log_level: "debug" });
  });

  it("a damaged settings file fails the command (with why) instead of being overwritten", async () => {
    const { open, paths, errors } = await setup();
    await writeFile(paths.configOverrides, "{not json");
    const ack = await (await open())(command());
    expect(ack.status).toBe("failed");
    expect(ack.detail).toMatch(/could not save the settings/);
    expect(await readFile(paths.configOverrides, "utf8")).toBe("{not json");
    expect(errors()).toBe(1);
  });
});

describe("each command id runs once", () => {
  it("a redelivered id is answered with the stored result and not run again", async () => {
    const { open, overrides, paths } = await setup();
    const handle = await open();
    const frame = command({ payload: { log_level: "debug" } });
    const first = await handle(frame);
    // Someone changes the setting afterwards; a re-run of the old command would undo that.
    await writeFile(paths.configOverrides, JSON.stringify({ log_level: "warn" }));
    const second = await handle(frame);
    expect(second).toEqual(first);
    expect(await overrides()).toEqual({ log_level: "warn" });
  });

  it("the handled ids survive a restart of the node program", async () => {
    const { open, overrides, paths } = await setup();
    const frame = command();
    const first = await (await open())(frame);
    await writeFile(paths.configOverrides, JSON.stringify({ log_level: "warn" }));
    const afterRestart = await (await open())(frame);
    expect(afterRestart).toEqual(first);
    expect(await overrides()).toEqual({ log_level: "warn" });
  });

  it("two copies arriving at the same time are handled once: the second waits for the first and gets its result", async () => {
    const { open, paths, logs } = await setup();
    const handle = await open();
    const frame = command({ payload: { n: 1 } });
    const [a, b] = await Promise.all([handle(frame), handle(frame)]);
    expect(a).toEqual(b);
    expect(logs.filter((line) => line.includes(`${frame.id} (CONFIG_CHANGE): done`))).toHaveLength(1);
    expect(logs.filter((line) => line.includes(`${frame.id} (CONFIG_CHANGE) was already handled`))).toHaveLength(1);
    const handled = JSON.parse(await readFile(paths.handledCommands, "utf8")) as { handled: Array<{ id: string }> };
    expect(handled.handled.filter((r) => r.id === frame.id)).toHaveLength(1);
  });

  it("says a command is done only once its result is on disk: a program killed before that logs nothing for it", async () => {
    // The store's write never finishes, as when the program dies in the middle of it.
    const stuck = { get: () => undefined, record: () => new Promise<void>(() => undefined) };
    const { open, paths, logs } = await setup(undefined, { store: stuck });
    const frame = command();
    void (await open())(frame);
    await eventually(
      () => readFile(paths.configOverrides, "utf8").catch(() => ""),
      (text) => text.includes("debug"),
    );
    await new Promise((r) => setTimeout(r, 50));
    expect(logs.filter((line) => line.includes(frame.id))).toEqual([]);
  });

  it(`keeps only the newest ${MAX_HANDLED} results`, async () => {
    const { paths } = await setup();
    const store = await openCommandStore(paths.handledCommands, () => undefined, 3);
    for (const id of ["a", "b", "c", "d"]) await store.record({ id, status: "done", at: new Date(NOW).toISOString() });
    const reopened = await openCommandStore(paths.handledCommands, () => undefined, 3);
    expect(["a", "b", "c", "d"].map((id) => reopened.get(id)?.id ?? null)).toEqual([null, "b", "c", "d"]);
  });

  it("a damaged list of handled ids is started afresh, with a log line", async () => {
    const { paths, logs } = await setup();
    await writeFile(paths.handledCommands, "[1,2");
    const store = await openCommandStore(paths.handledCommands, (m) => logs.push(m));
    expect(store.get("a")).toBeUndefined();
    expect(logs.join("\n")).toMatch(/commands-handled\.json/);
  });
});

describe("other commands", () => {
  it("an installed SOFTWARE_UPDATE acks done, and the restart is asked for only after the done is on disk and returned", async () => {
    let calls = 0;
    const { open, paths, restarts } = await setup(async () => {
      calls += 1;
      return { status: "done", installed: "0.3.1", detail: "installed 0.3.1; restarting into it" };
    });
    const handle = await open();
    const frame = command({ command: "SOFTWARE_UPDATE", payload: { any: "release" } });
    const ack = await handle(frame);
    expect(ack).toEqual({ status: "done", detail: "installed 0.3.1; restarting into it" });
    // The live link sends the ack in the microtasks after this; the restart waits for a timer.
    expect(restarts).toEqual([]);
    const handled = JSON.parse(await readFile(paths.handledCommands, "utf8")) as { handled: Array<{ id: string; status: string }> };
    expect(handled.handled).toContainEqual(expect.objectContaining({ id: frame.id, status: "done" }));
    expect(
      await eventually(
        () => [...restarts],
        (r) => r.length > 0,
        5_000,
        "the restart into 0.3.1",
      ),
    ).toEqual(["0.3.1"]);
    // Redelivered (the ack was lost with the restart): answered from the store, not installed again.
    expect(await handle(frame)).toEqual(ack);
    expect(calls).toBe(1);
  });

  it("a SOFTWARE_UPDATE for the release already installed and running acks done, counts no error and restarts nothing", async () => {
    const { open, restarts, errors } = await setup(async () => ({
      status: "done",
      installed: null,
      detail: "0.3.1 is already installed and running",
    }));
    const handle = await open();
    // Fake timers: a restart would be asked for on a timer; running every pending one shows there is none.
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      const ack = await handle(command({ command: "SOFTWARE_UPDATE", payload: {} }));
      expect(ack).toEqual({ status: "done", detail: "0.3.1 is already installed and running" });
      vi.runOnlyPendingTimers();
    } finally {
      vi.useRealTimers();
    }
    expect(restarts).toEqual([]);
    expect(errors()).toBe(0);
  });

  it("a refused SOFTWARE_UPDATE acks failed with the updater's reason, counts an error and restarts nothing", async () => {
    const { open, restarts, errors } = await setup(async () => ({
      status: "failed",
      code: "bad_signature",
      detail: "the signature does not match the manifest",
    }));
    const ack = await (await open())(command({ command: "SOFTWARE_UPDATE", payload: {} }));
    expect(ack).toEqual({ status: "failed", detail: "the signature does not match the manifest" });
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(restarts).toEqual([]);
    expect(errors()).toBe(1);
  });

  it("a failure's detail leaves without the owner's home or name: the ack and the stored result are scrubbed", async () => {
    const { open, paths } = await setup(async () => ({
      status: "failed",
      code: "install_failed",
      detail:
        "could not install 0.3.1: EACCES: permission denied, mkdir '/home/Nana Smith/.buhdi-node/versions' (file:///home/Nana%20Smith/x.mjs)",
    }));
    const frame = command({ command: "SOFTWARE_UPDATE", payload: {} });
    const ack = await (await open())(frame);
    expect(ack).toEqual({
      status: "failed",
      detail: "could not install 0.3.1: EACCES: permission denied, mkdir '~/.buhdi-node/versions' (file://~/x.mjs)",
    });
    const stored = await readFile(paths.handledCommands, "utf8");
    expect(stored).not.toMatch(/Nana/);
  });

  it("an expired command is not run and acks failed with detail expired", async () => {
    const { open, paths } = await setup();
    const ack = await (await open())(command({ expires_at: new Date(NOW - 1).toISOString() }));
    expect(ack).toEqual({ status: "failed", detail: "expired" });
    await expect(readFile(paths.configOverrides)).rejects.toThrow(/ENOENT/);
  });
});

describe("every command has a deadline of its own", () => {
  it("a SOFTWARE_UPDATE stuck past its deadline acks failed with why, and the CONFIG_CHANGE queued behind it still runs", async () => {
    let signal: AbortSignal | null = null;
    const stuck: Updater = (_payload, options) => {
      signal = options?.signal ?? null;
      return new Promise(() => undefined); // never settles, whatever it is told
    };
    const { open, overrides, paths, errors } = await setup(stuck, { deadlinesMs: { SOFTWARE_UPDATE: 100, CONFIG_CHANGE: 5_000 } });
    const handle = await open();
    const update = command({ command: "SOFTWARE_UPDATE", payload: {} });
    const started = Date.now();
    const [updateAck, configAck] = await Promise.all([handle(update), handle(command({ payload: { log_level: "warn" } }))]);
    expect(updateAck).toEqual({ status: "failed", detail: "SOFTWARE_UPDATE did not finish within 0.1 s and was stopped" });
    expect(configAck).toMatchObject({ status: "done" });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await overrides()).toEqual({ log_level: "warn" });
    // The updater was told to stop, so its download does not run on behind the next command.
    expect(signal).not.toBeNull();
    expect(signal!.aborted).toBe(true);
    expect(errors()).toBe(1);
    // The failure is what the store answers a resend with.
    const handled = JSON.parse(await readFile(paths.handledCommands, "utf8")) as { handled: Array<{ id: string; status: string }> };
    expect(handled.handled).toContainEqual(expect.objectContaining({ id: update.id, status: "failed" }));
  }, 15_000);
});

describe("mergePatch (RFC 7396)", () => {
  it.each([
    [{ a: 1 }, { b: 2 }, { a: 1, b: 2 }],
    [{ a: 1 }, { a: null }, {}],
    [{ a: { b: 1, c: 2 } }, { a: { c: null, d: 3 } }, { a: { b: 1, d: 3 } }],
    [{ a: [1, 2] }, { a: [3] }, { a: [3] }],
    [{ a: 1 }, { a: { b: 1 } }, { a: { b: 1 } }],
  ])("%j + %j = %j", (target, patch, expected) => {
    expect(mergePatch(target, patch)).toEqual(expected);
    // Applying it again changes nothing: a replayed command is harmless.
    expect(mergePatch(mergePatch(target, patch), patch)).toEqual(expected);
  });
});
