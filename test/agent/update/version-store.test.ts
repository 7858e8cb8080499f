/**
 * version-store.ts and config.ts check their files by hand (so the supervisor never evaluates
 * zod); these hold the hand checks to the schemas they stand in for: the protocol's
 * VersionSchema, z.iso.datetime() for the trial's stamp, z.url() and z.uuid() for config.json.
 */
import { mkdir, writeFile } from "node:fs/promises";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { VersionSchema } from "../../../protocol/index.ts";
import { NotEnrolledError, loadEnrollment } from "../../../agent/core/config.ts";
import { homePaths } from "../../../agent/core/paths.ts";
import { isVersionName, readRolledBack, readTrial, readVersionName } from "../../../agent/update/version-store.ts";
import { tempHome } from "../../support/helpers.ts";

/** Strings near the version grammar (digits, dots, dashes, pluses, letters), where mistakes hide. */
const versionish = fc.stringMatching(/^[0-9a-zA-Z.+-]{0,24}$/);
const numbered = fc
  .tuple(
    fc.array(fc.integer({ min: 0, max: 9_999_999 }), { minLength: 1, maxLength: 4 }),
    fc.option(fc.stringMatching(/^[0-9A-Za-z.-]{0,70}$/)),
    fc.option(fc.stringMatching(/^[0-9A-Za-z.-]{0,70}$/)),
  )
  .map(([parts, pre, build]) => `${parts.join(".")}${pre === null ? "" : `-${pre}`}${build === null ? "" : `+${build}`}`);

async function home() {
  const paths = homePaths(await tempHome());
  await mkdir(paths.home, { recursive: true });
  return paths;
}

describe("versions on disk", () => {
  it("a name is a version exactly when the protocol's VersionSchema says so", () => {
    fc.assert(
      fc.property(fc.oneof(versionish, numbered, fc.string()), (text) => {
        expect(isVersionName(text)).toBe(VersionSchema.safeParse(text).success);
      }),
      { numRuns: 2_000 },
    );
  });

  it("reads `current` as a version only when it is one (never a path)", async () => {
    const paths = await home();
    expect(await readVersionName(paths.current)).toBeNull();
    for (const [text, expected] of [
      ["0.3.1\n", "0.3.1"],
      ["0.3.1-rc.1+b.7", "0.3.1-rc.1+b.7"],
      ["../../evil", null],
      ["0.3", null],
      ["", null],
    ] as const) {
      await writeFile(paths.current, text);
      expect(await readVersionName(paths.current)).toBe(expected);
    }
  });

  it("reads update-trial.json as z.object({version, installed_at: z.iso.datetime()}) would", async () => {
    const paths = await home();
    const TrialSchema = z.object({ version: VersionSchema, installed_at: z.iso.datetime() });
    const samples: unknown[] = [
      { version: "0.3.2", installed_at: "2026-11-28T12:59:59.000Z" },
      { version: "0.3.2", installed_at: "2026-11-28T12:59:59Z", extra: true },
      { version: "0.3.2", installed_at: "2026-11-28T12:59:59+01:00" },
      { version: "0.3.2", installed_at: "2026-13-28T12:59:59.000Z" },
      { version: "0.3.2", installed_at: "2028-02-29T00:00:00Z" },
      { version: "0.3.2", installed_at: "2026-02-29T00:00:00Z" },
      { version: "0.3.2", installed_at: "2026-11-30T24:00:00Z" },
      { version: "0.3.2", installed_at: "2026-11-28T12:59Z" },
      { version: "0.3.2", installed_at: "yesterday" },
      { version: "0.3.2" },
      { version: "0.3", installed_at: "2026-11-28T12:59:59.000Z" },
      { version: 3, installed_at: "2026-11-28T12:59:59.000Z" },
      ["0.3.2", "2026-11-28T12:59:59.000Z"],
      null,
      "0.3.2",
    ];
    for (const sample of samples) {
      await writeFile(paths.updateTrial, JSON.stringify(sample));
      const expected = TrialSchema.safeParse(sample);
      expect(await readTrial(paths)).toEqual(expected.success ? expected.data : null);
    }
    await writeFile(paths.updateTrial, "{not json");
    expect(await readTrial(paths)).toBeNull();
  });

  it("reads rolled-back.json as a set of versions, or empty when it holds anything else", async () => {
    const paths = await home();
    expect(await readRolledBack(paths)).toEqual(new Set());
    await writeFile(paths.rolledBack, JSON.stringify({ versions: ["0.3.3", "0.3.4-rc.1"] }));
    expect(await readRolledBack(paths)).toEqual(new Set(["0.3.3", "0.3.4-rc.1"]));
    for (const damaged of [{ versions: ["0.3.3", "../x"] }, { versions: "0.3.3" }, ["0.3.3"], "{"]) {
      await writeFile(paths.rolledBack, typeof damaged === "string" ? damaged : JSON.stringify(damaged));
      expect(await readRolledBack(paths)).toEqual(new Set());
    }
  });
});

describe("config.json", () => {
  const NODE_ID = "6f1c1a2e-1d3b-4c8e-9a0b-2a9e0e8f7a11";

  async function enrolledWith(config: unknown, key = "bnk.x.secret\n") {
    const paths = await home();
    await writeFile(paths.config, typeof config === "string" ? config : JSON.stringify(config));
    await writeFile(paths.key, key);
    return paths;
  }

  it("loads a good one, with the server normalized", async () => {
    const paths = await enrolledWith({ server: " https://mybuhdi.com/ ", node_id: NODE_ID });
    expect(await loadEnrollment(paths)).toEqual({ server: "https://mybuhdi.com", node_id: NODE_ID, key: "bnk.x.secret" });
  });

  it("refuses exactly what z.object({ server: z.url(), node_id: z.uuid() }) refuses", async () => {
    const ConfigSchema = z.object({ server: z.url(), node_id: z.uuid() });
    const samples: unknown[] = [
      { server: "http://127.0.0.1:8787", node_id: NODE_ID },
      { server: "http://127.0.0.1:8787", node_id: NODE_ID.toUpperCase() },
      { server: "http://127.0.0.1:8787", node_id: "00000000-0000-0000-0000-000000000000" },
      { server: "http://127.0.0.1:8787", node_id: "6f1c1a2e-1d3b-9c8e-9a0b-2a9e0e8f7a11" },
      { server: "http://127.0.0.1:8787", node_id: "6f1c1a2e-1d3b-4c8e-7a0b-2a9e0e8f7a11" },
      { server: "http://127.0.0.1:8787", node_id: "node-1" },
      { server: "not a url", node_id: NODE_ID },
      { server: "", node_id: NODE_ID },
      { server: 8787, node_id: NODE_ID },
      { node_id: NODE_ID },
      [NODE_ID],
      null,
    ];
    for (const sample of samples) {
      const paths = await enrolledWith(sample);
      const accepted = ConfigSchema.safeParse(sample).success;
      const loaded = loadEnrollment(paths);
      if (accepted) await expect(loaded).resolves.toMatchObject({ node_id: (sample as { node_id: string }).node_id });
      else await expect(loaded).rejects.toBeInstanceOf(NotEnrolledError);
    }
  });

  it("is not enrolled with an empty key or a config that is not JSON", async () => {
    await expect(loadEnrollment(await enrolledWith({ server: "https://mybuhdi.com", node_id: NODE_ID }, " \n"))).rejects.toBeInstanceOf(
      NotEnrolledError,
    );
    await expect(loadEnrollment(await enrolledWith("{"))).rejects.toBeInstanceOf(NotEnrolledError);
  });
});
