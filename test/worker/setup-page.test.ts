/** The setup link: the page, the installer download, the one-line installer, and that no GET spends the code. */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { toHex } from "../../worker/crypto.ts";
import { adminPost, call, createOwner } from "./helpers.ts";

const WINDOWS_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36";
const LINUX_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
const MAC_UA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15";

async function newEnrollment(nodeName = "Kitchen Laptop", extra: Record<string, unknown> = {}) {
  const owner = await createOwner();
  const res = await adminPost("/api/admin/enrollments", { owner_id: owner.owner_id, node_name: nodeName, ...extra });
  expect(res.status).toBe(201);
  return res.json<{ code: string; expires_at: string; setup_url: string }>();
}

function enroll(code: string): Promise<Response> {
  return call("/api/enroll", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ code, os: "linux", arch: "x64", version: "0.3.0" }),
  });
}

let releaseCounter = 0;

/** A release row and an installer object in R2, registered through the admin API. */
async function registeredInstaller(platform: string, bytes: Uint8Array): Promise<{ version: string; res: Response }> {
  const version = `9.${++releaseCounter}.0`;
  await env.DB.prepare(
    `INSERT INTO releases (version, channel, manifest, signature, key_id, sha256, size, r2_key, expires_at)
     VALUES (?1, 'stable', '{}', 'sig', 'key', 'x', 1, ?2, ?3)`,
  )
    .bind(version, `bundles/${version}/buhdi-node.mjs`, Date.now() + 86_400_000)
    .run();
  await env.RELEASES.put(`installers/${version}/${platform}`, bytes);
  const digest = toHex(await crypto.subtle.digest("SHA-256", bytes));
  const res = await adminPost("/api/admin/installers", { version, platform, size: bytes.byteLength, sha256: digest });
  return { version, res };
}

describe("the setup link", () => {
  it("comes with every new enrollment code, pointing at this edge", async () => {
    const enrollment = await newEnrollment();
    expect(enrollment.setup_url).toBe(`https://edge.test/setup/${enrollment.code}`);
  });

  it("opens a page with no script, the node's name escaped, and the Windows download first for a Windows browser", async () => {
    const { code } = await newEnrollment(`<script>alert("x")</script> & Nana's`);
    const res = await call(`/setup/${code}`, { headers: { "user-agent": WINDOWS_UA } });
    expect(res.status).toBe(200);
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toContain("script-src");
    expect(res.headers.get("cache-control")).toBe("no-store");
    const html = await res.text();
    expect(html).not.toMatch(/<script/i);
    expect(html).toContain("&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62; &#38; Nana&#39;s");
    expect(html.indexOf(`/setup/${code}/download/windows-x64`)).toBeLessThan(html.indexOf("Other systems"));
    for (const platform of ["linux-x64", "macos-x64", "macos-arm64"]) expect(html).toContain(`/setup/${code}/download/${platform}`);
  });

  it("offers Linux and Mac browsers the one-line install and says what it does", async () => {
    const { code } = await newEnrollment();
    for (const ua of [LINUX_UA, MAC_UA]) {
      const html = await (await call(`/setup/${code}`, { headers: { "user-agent": ua } })).text();
      expect(html).toContain(`curl -fsSL https://edge.test/setup/${code}/install.sh | sh`);
      expect(html).toContain("It needs no administrator password");
    }
  });

  it("serves a one-line installer script that downloads this system's installer and runs setup with the code", async () => {
    const { code } = await newEnrollment();
    const res = await call(`/setup/${code}/install.sh`);
    expect(res.status).toBe(200);
    const script = await res.text();
    expect(script).toContain(`'https://edge.test/setup/${code}/download/'"$platform"`);
    expect(script).toContain(`setup --code '${code}' --server 'https://edge.test'`);
  });

  it("accepts a code typed in lower case, as enrollment does", async () => {
    const { code } = await newEnrollment();
    expect((await call(`/setup/${code.toLowerCase()}`)).status).toBe(200);
  });

  it("says in plain words when the link was already used, has expired, is unknown or cut off", async () => {
    const used = await newEnrollment();
    expect((await enroll(used.code)).status).toBe(201);
    const usedPage = await call(`/setup/${used.code}`);
    expect(usedPage.status).toBe(410);
    expect(await usedPage.text()).toContain("This link was already used");

    const expired = await newEnrollment();
    await env.DB.prepare("UPDATE enrollment_codes SET expires_at = ?1 WHERE node_name = 'Kitchen Laptop' AND used_at IS NULL")
      .bind(Date.now() - 1000)
      .run();
    const expiredPage = await call(`/setup/${expired.code}`);
    expect(expiredPage.status).toBe(410);
    expect(await expiredPage.text()).toContain("This link has expired");

    const unknown = await call("/setup/ABCD-EFGH-JKMN-PQRS");
    expect(unknown.status).toBe(404);
    expect(await unknown.text()).toContain("We do not know this setup link");

    const cut = await call("/setup/ABCD-EF");
    expect(cut.status).toBe(400);
    expect(await cut.text()).toContain("seems cut off");

    const script = await call(`/setup/${used.code}/install.sh`);
    expect(script.status).toBe(410);
    expect(await script.text()).toContain("exit 1");
  });

  it("downloads the current release's installer with the code in the file name, and the code still enrolls afterwards", async () => {
    const bytes = new TextEncoder().encode("MSI bytes for the test");
    const { version, res } = await registeredInstaller("windows-x64", bytes);
    expect(res.status).toBe(201);
    const { code } = await newEnrollment();
    expect((await call(`/setup/${code}`)).status).toBe(200);
    const download = await call(`/setup/${code}/download/windows-x64`);
    expect(download.status).toBe(200);
    expect(download.headers.get("content-disposition")).toBe(`attachment; filename="Buhdi-Setup-${code}.msi"`);
    expect(download.headers.get("x-buhdi-version")).toBe(version);
    expect(new Uint8Array(await download.arrayBuffer())).toEqual(bytes);
    // A second download, then the enrollment: neither GET spent the code.
    const again = await call(`/setup/${code}/download/windows-x64`);
    expect(again.status).toBe(200);
    await again.arrayBuffer();
    expect((await enroll(code)).status).toBe(201);
    expect((await call(`/setup/${code}/download/windows-x64`)).status).toBe(410);
  });

  it("answers an unknown platform with a 400 naming the platforms, and a missing installer with a page", async () => {
    const { code } = await newEnrollment();
    const bad = await call(`/setup/${code}/download/amiga`);
    expect(bad.status).toBe(400);
    expect(JSON.stringify(await bad.json())).toContain("windows-x64, linux-x64, macos-x64, macos-arm64");
    const missing = await call(`/setup/${code}/download/macos-arm64`);
    expect(missing.status).toBe(503);
    expect(await missing.text()).toContain("not available for download right now");
  });

  it("registers an installer only if R2 holds exactly the bytes the release tool says it built", async () => {
    const { version } = await registeredInstaller("linux-x64", new TextEncoder().encode("ELF"));
    const wrongSize = await adminPost("/api/admin/installers", { version, platform: "linux-x64", size: 4, sha256: "0".repeat(64) });
    expect(wrongSize.status).toBe(422);
    const wrongHash = await adminPost("/api/admin/installers", { version, platform: "linux-x64", size: 3, sha256: "0".repeat(64) });
    expect(wrongHash.status).toBe(422);
    expect(JSON.stringify(await wrongHash.json())).toContain("SHA-256");
    const noRelease = await adminPost("/api/admin/installers", {
      version: "8.8.8",
      platform: "linux-x64",
      size: 3,
      sha256: "0".repeat(64),
    });
    expect(noRelease.status).toBe(404);
    const badBody = await adminPost("/api/admin/installers", { version, platform: "beos", size: 3, sha256: "nope" });
    expect(badBody.status).toBe(400);
    const noToken = await call("/api/admin/installers", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(noToken.status).toBe(401);
  });
});

describe("retiring a node", () => {
  it("revokes the node's key: the retire call answers once, and the key is refused afterwards", async () => {
    const { code } = await newEnrollment();
    const enrolled = await (await enroll(code)).json<{ node_id: string; node_key: string }>();
    const retire = () => call("/api/node/retire", { method: "POST", headers: { "x-node-key": enrolled.node_key } });
    const first = await retire();
    expect(first.status).toBe(200);
    expect(await first.json()).toMatchObject({ node_id: enrolled.node_id });
    const row = await env.DB.prepare("SELECT key_hash, status FROM nodes WHERE id = ?1")
      .bind(enrolled.node_id)
      .first<{ key_hash: string; status: string }>();
    expect(row?.key_hash).toMatch(/^retired:\d+$/);
    expect(row?.status).toBe("retired");
    // At once, although the key was just verified (and cached) by this isolate.
    expect((await call("/api/node/versions", { headers: { "x-node-key": enrolled.node_key } })).status).toBe(401);
    expect((await call("/api/node/retire", { method: "POST" })).status).toBe(401);
  });
});
