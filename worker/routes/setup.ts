/**
 * What the setup link opens, for an owner who knows nothing about computers:
 *  - `GET /setup/:code`: a plain page (no script) with the download for their system;
 *  - `GET /setup/:code/download/:platform`: the current release's installer, streamed from R2,
 *    saved under a file name that carries the code;
 *  - `GET /setup/:code/install.sh`: the one-line installer for Linux and macOS.
 * None of them spends the code: only enrolling (POST /api/enroll) does.
 */
import type { Context } from "hono";
import { Hono } from "hono";
import { database } from "../db/client.ts";
import { fleetDatabase } from "../db/shards.ts";
import type { AppEnv } from "../env.ts";
import { codeStatus, normalizeCode } from "../setup/code-status.ts";
import {
  currentInstaller,
  INSTALLER_CONTENT_TYPES,
  installerFileName,
  installerKey,
  PlatformParamSchema,
  platformFromUserAgent,
} from "../setup/installers.ts";
import { installScript, SETUP_PAGE_CSP, setupPage, unusablePage } from "../setup/page.ts";

const PAGE_HEADERS = {
  "content-type": "text/html; charset=utf-8",
  "content-security-policy": SETUP_PAGE_CSP,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  // The page names the node and holds a credential until it is used: never cached.
  "cache-control": "no-store",
};

/** The origin nodes and browsers reach this edge at; refused if it is anything but a plain URL origin. */
function originOf(c: Context<AppEnv>): string {
  const origin = new URL(c.req.url).origin;
  if (!/^https?:\/\/[A-Za-z0-9.\-[\]:]+$/.test(origin)) throw new Error(`unexpected request origin ${origin}`);
  return origin;
}

export function setupUrl(origin: string, code: string): string {
  return `${origin}/setup/${code}`;
}

function page(html: string, status: 200 | 400 | 404 | 410 | 503): Response {
  return new Response(html, { status, headers: PAGE_HEADERS });
}

const STATUS_FOR = { malformed: 400, unknown: 404, used: 410, expired: 410 } as const;

export const setupRoutes = new Hono<AppEnv>()
  .get("/:code", async (c) => {
    const code = normalizeCode(c.req.param("code"));
    const status = await codeStatus(database(fleetDatabase(c.env)), code);
    if (status.state !== "valid") return page(unusablePage(status.state), STATUS_FOR[status.state]);
    return page(
      setupPage({
        code: code!,
        nodeName: status.nodeName,
        expiresAt: status.expiresAt,
        origin: originOf(c),
        detected: platformFromUserAgent(c.req.header("user-agent")),
      }),
      200,
    );
  })
  .get("/:code/install.sh", async (c) => {
    const code = normalizeCode(c.req.param("code"));
    const status = await codeStatus(database(fleetDatabase(c.env)), code);
    if (status.state !== "valid") {
      // Plain words for a terminal, and a script that fails instead of doing anything.
      const why = { malformed: "is not complete", unknown: "does not work", used: "was already used", expired: "has expired" }[
        status.state
      ];
      return new Response(`echo 'This Buhdi setup link ${why}. Ask for a new link.' >&2; exit 1\n`, {
        status: STATUS_FOR[status.state],
        headers: { "content-type": "text/x-shellscript; charset=utf-8", "cache-control": "no-store" },
      });
    }
    return new Response(installScript(originOf(c), code!), {
      headers: { "content-type": "text/x-shellscript; charset=utf-8", "cache-control": "no-store" },
    });
  })
  .get("/:code/download/:platform", async (c) => {
    const platform = PlatformParamSchema.safeParse(c.req.param("platform"));
    if (!platform.success) {
      return c.json(
        { error: { code: "invalid_path", message: `platform: ${platform.error.issues[0]?.message ?? "unknown platform"}` } },
        400,
      );
    }
    const code = normalizeCode(c.req.param("code"));
    const db = database(fleetDatabase(c.env));
    const status = await codeStatus(db, code);
    if (status.state !== "valid") return page(unusablePage(status.state), STATUS_FOR[status.state]);
    const installer = await currentInstaller(db, c.env.RELEASES, platform.data);
    if (!installer) return page(unusablePage("no_installer"), 503);
    const object = await c.env.RELEASES.get(installerKey(installer.version, platform.data));
    if (!object) return page(unusablePage("no_installer"), 503);
    return new Response(object.body, {
      headers: {
        "content-type": INSTALLER_CONTENT_TYPES[platform.data],
        "content-length": String(object.size),
        // The code is only Crockford letters, digits and dashes: safe in a quoted file name.
        "content-disposition": `attachment; filename="${installerFileName(platform.data, code!)}"`,
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
        "x-buhdi-version": installer.version,
      },
    });
  });
