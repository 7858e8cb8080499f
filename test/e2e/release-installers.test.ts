/**
 * `npm run release` with installers, against a real local edge: the Linux single executable is
 * built around the release's bundle, uploaded to R2 (as a tar.gz) and registered; the setup link
 * then downloads exactly those bytes under a file name carrying the code, and the page's one line
 * (`curl … | sh`) unpacks it, installs and enrolls this computer.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalEdge, startLocalEdge } from "../../scripts/local-edge.ts";
import { newReleaseKey, type ReleaseKey, trustedKeysVar } from "../../scripts/release-key.ts";
import { release } from "../../scripts/release.ts";

describe("a release with installers", () => {
  let edge: LocalEdge;
  let key: ReleaseKey;

  beforeAll(async () => {
    key = newReleaseKey();
    edge = await startLocalEdge({ vars: { RELEASE_PUBLIC_KEYS: trustedKeysVar([key]) } });
  }, 120_000);
  afterAll(async () => {
    await edge?.stop();
  });

  it("publishes the Linux installer, and the setup link serves exactly it with the code in the file name", {
    timeout: 300_000,
  }, async () => {
    const released = await release({
      version: "0.3.0",
      channel: "stable",
      key,
      server: edge.url,
      adminToken: edge.adminToken,
      remote: false,
      persistDir: edge.persistDir,
      expiresInDays: 30,
      installers: ["linux-x64"],
    });
    const [linux] = released.installers;
    expect(linux?.platform).toBe("linux-x64");

    const headers = { authorization: `Bearer ${edge.adminToken}`, "content-type": "application/json" };
    const owner = (await (
      await fetch(`${edge.url}/api/admin/owners`, {
        method: "POST",
        headers,
        body: JSON.stringify({ email: "release@example.com", name: "R" }),
      })
    ).json()) as { owner_id: string };
    const enrollment = (await (
      await fetch(`${edge.url}/api/admin/enrollments`, {
        method: "POST",
        headers,
        body: JSON.stringify({ owner_id: owner.owner_id, node_name: "Kitchen Laptop" }),
      })
    ).json()) as { code: string; setup_url: string };
    expect(enrollment.setup_url).toBe(`${edge.url}/setup/${enrollment.code}`);

    const download = await fetch(`${enrollment.setup_url}/download/linux-x64`);
    expect(download.status).toBe(200);
    expect(download.headers.get("content-disposition")).toBe(`attachment; filename="buhdi-setup-${enrollment.code}-linux-x64.tar.gz"`);
    expect(download.headers.get("content-type")).toBe("application/gzip");
    const bytes = Buffer.from(await download.arrayBuffer());
    expect(bytes.length).toBe(linux!.size);
    expect(createHash("sha256").update(bytes).digest("hex")).toBe(linux!.sha256);

    // The one line the page shows, in a shell, for an owner with a home of their own.
    const home = await mkdtemp(path.join(os.tmpdir(), "buhdi-install-sh-"));
    try {
      const oneLine = `curl -fsSL ${enrollment.setup_url}/install.sh | sh`;
      const installed = await promisify(execFile)("sh", ["-c", oneLine], {
        env: { PATH: process.env.PATH, HOME: home },
        timeout: 120_000,
        maxBuffer: 1 << 20,
      });
      expect(installed.stdout).toContain(`Installed Buhdi in ${path.join(home, ".local", "share", "buhdi")}`);
      expect(installed.stdout).toContain("Connected this computer to your Buhdi account");
      const config = JSON.parse(await readFile(path.join(home, ".local", "share", "buhdi", "home", "config.json"), "utf8")) as {
        node_id: string;
        server: string;
      };
      expect(config.server).toBe(edge.url);
      const node = await fetch(`${edge.url}/api/nodes/${config.node_id}`, { headers });
      expect(node.status).toBe(200);
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });
});
