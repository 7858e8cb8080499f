/**
 * The tools around a release and the node's trust in it: `build:agent` makes one file that
 * knows its own version and runs; `release:keygen` makes a key the agent's keyring accepts,
 * stores it 0600 and never overwrites one; the keyring drops an entry whose id is not its key's,
 * and takes development keys from BUHDI_NODE_TRUSTED_KEYS; every pinned production key is sound.
 */
import { spawn } from "node:child_process";
import { createPrivateKey, generateKeyPairSync, sign, verify } from "node:crypto";
import { readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { PINNED_RELEASE_KEYS, TRUSTED_KEYS_ENV, buildKeyring, loadKeyring } from "../../../agent/update/trusted-keys.ts";
import { makeReleaseKey } from "../../../scripts/release-keygen.ts";
import { NODE_BIN, REPO_ROOT, collect, tempHome } from "../../support/helpers.ts";
import { sha256Hex, testKey } from "../../support/release-fixtures.ts";

function runScript(script: string, args: string[], env: Record<string, string> = {}) {
  return collect(
    spawn(NODE_BIN, [path.join(REPO_ROOT, "scripts", script), ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    }),
  );
}

describe("npm run build:agent", () => {
  it("bundles the agent into <out>/<version>/buhdi-node.mjs, prints its size and sha256, and the bundle reports its own version whatever the environment says", async () => {
    const out = await tempHome();
    const result = await runScript("build-agent.ts", ["0.5.0-rc.1", "--out", out]);
    expect(result.code).toBe(0);
    const file = path.join(out, "0.5.0-rc.1", "buhdi-node.mjs");
    const bytes = await readFile(file);
    expect(result.stdout).toBe(`${file}\nversion 0.5.0-rc.1\nsize    ${bytes.length}\nsha256  ${sha256Hex(bytes)}\n`);
    const run = await collect(
      spawn(NODE_BIN, [file, "--version"], { env: { ...process.env, BUHDI_NODE_VERSION: "9.9.9" }, stdio: ["ignore", "pipe", "pipe"] }),
    );
    expect(run.stdout).toBe("0.5.0-rc.1\n");
    // One file: nothing imported from node_modules at run time.
    expect(bytes.toString("utf8")).not.toMatch(/from "zod"|require\("zod"\)/);
  });

  it("refuses a version that is not a version", async () => {
    const result = await runScript("build-agent.ts", ["latest", "--out", await tempHome()]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/must be a version like 0\.3\.1/);
  });
});

describe("npm run release:keygen", () => {
  it("writes a 0600 PKCS8 key and prints the key_id and public key that the agent's keyring accepts for its signatures", async () => {
    const dir = path.join(await tempHome(), ".keys");
    const result = await runScript("release-keygen.ts", ["--dir", dir]);
    expect(result.code).toBe(0);
    const keyId = /key_id:\s+([0-9a-f]{16})/.exec(result.stdout)?.[1];
    const publicKey = /public_key:\s+(\S+)/.exec(result.stdout)?.[1];
    expect(result.stdout).toContain(`{ key_id: "${keyId}", public_key: "${publicKey}" },`);
    const file = path.join(dir, `release-${keyId}.pem`);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const privateKey = createPrivateKey(await readFile(file));
    const ring = buildKeyring([{ key_id: keyId, public_key: publicKey }], () => undefined);
    const text = Buffer.from('{"version":"0.3.1"}');
    expect(verify(null, text, ring.get(keyId!)!, sign(null, text, privateKey))).toBe(true);
  });

  it("never overwrites an existing key file", async () => {
    const dir = await tempHome();
    const pair = generateKeyPairSync("ed25519");
    const first = await makeReleaseKey(dir, () => pair);
    await writeFile(first.file, "the original key\n"); // stands for the key that must survive
    await expect(makeReleaseKey(dir, () => pair)).rejects.toThrow(/EEXIST/);
    expect(await readFile(first.file, "utf8")).toBe("the original key\n");
  });
});

describe("the keyring", () => {
  it("drops an entry whose key_id is not its key's, with a log line", () => {
    const a = testKey();
    const b = testKey();
    const logs: string[] = [];
    const ring = buildKeyring(
      [
        { key_id: b.keyId, public_key: a.publicKey },
        { key_id: a.keyId, public_key: "short" },
      ],
      (m) => logs.push(m),
    );
    expect(ring.size).toBe(0);
    expect(logs[0]).toBe(`ignored trusted release key ${b.keyId}: that key's id is ${a.keyId}`);
    expect(logs[1]).toMatch(/public_key: must be base64 of a 32-byte Ed25519 public key/);
  });

  it(`adds keys from ${TRUSTED_KEYS_ENV}, more than one (rotation), and ignores the variable when it is not a JSON array`, () => {
    const a = testKey();
    const b = testKey();
    const value = JSON.stringify([
      { key_id: a.keyId, public_key: a.publicKey },
      { key_id: b.keyId, public_key: b.publicKey },
    ]);
    expect([...loadKeyring({ [TRUSTED_KEYS_ENV]: value }, () => undefined).keys()].sort()).toEqual(
      [...new Set([a.keyId, b.keyId, ...PINNED_RELEASE_KEYS.map((k) => k.key_id)])].sort(),
    );
    const logs: string[] = [];
    expect(loadKeyring({ [TRUSTED_KEYS_ENV]: "{not json" }, (m) => logs.push(m)).size).toBe(PINNED_RELEASE_KEYS.length);
    expect(logs).toEqual([`${TRUSTED_KEYS_ENV} is not valid JSON; ignored`]);
  });

  it("every pinned production key is a sound Ed25519 key under its own id (a paste error would fail here, not on the fleet)", () => {
    const logs: string[] = [];
    expect(buildKeyring(PINNED_RELEASE_KEYS, (m) => logs.push(m)).size).toBe(PINNED_RELEASE_KEYS.length);
    expect(logs).toEqual([]);
  });
});
