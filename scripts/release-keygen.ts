/**
 * `npm run release:keygen [-- --dir .keys]`: a new Ed25519 release signing key. The private key
 * goes to <dir>/release-<key_id>.pem (PKCS8 PEM, mode 0600; <dir> is git-ignored and 0700); the
 * key id and the base64 raw public key are printed, as the line to add to
 * agent/update/trusted-keys.ts (PINNED_RELEASE_KEYS). An existing key file is never overwritten: a
 * signing key that disappears strands every node that trusts only it.
 * Keep the private key off the machines that build and serve the cloud; rotating means pinning
 * the new key in a release signed by the old one, then signing with the new.
 */
import { generateKeyPairSync } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { keyIdOf, rawPublicKey } from "../agent/update/trusted-keys.ts";
import { messageOf } from "../agent/core/errors.ts";

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

export type NewReleaseKey = { keyId: string; publicKey: string; file: string };

/** `generate` is for tests (the same pair twice must not overwrite the first file). */
export async function makeReleaseKey(dir: string, generate = () => generateKeyPairSync("ed25519")): Promise<NewReleaseKey> {
  const { publicKey, privateKey } = generate();
  const raw = rawPublicKey(publicKey);
  const keyId = keyIdOf(raw);
  const file = path.join(dir, `release-${keyId}.pem`);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const pem = privateKey.export({ type: "pkcs8", format: "pem" });
  // "wx": refuses to replace an existing file, and the key is 0600 from its first byte.
  await writeFile(file, pem, { flag: "wx", mode: 0o600 });
  return { keyId, publicKey: raw.toString("base64"), file };
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { dir: { type: "string" } } });
  const key = await makeReleaseKey(path.resolve(values.dir ?? path.join(REPO_ROOT, ".keys")));
  process.stdout.write(
    `Private key: ${key.file} (keep it secret; never commit it)\n` +
      `key_id:      ${key.keyId}\n` +
      `public_key:  ${key.publicKey}\n\n` +
      "Add to PINNED_RELEASE_KEYS in agent/update/trusted-keys.ts:\n" +
      `  { key_id: "${key.keyId}", public_key: "${key.publicKey}" },\n`,
  );
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    const exists = error instanceof Error && "code" in error && error.code === "EEXIST";
    process.stderr.write(`release-keygen: ${exists ? "a key file with that id exists already; nothing written" : messageOf(error)}\n`);
    process.exitCode = 1;
  });
}
