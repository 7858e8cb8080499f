/**
 * The setup page's HTML: server-rendered, no script at all (the Content-Security-Policy forbids
 * any), every value from the database or the request escaped. The visitor's system is guessed
 * from the User-Agent on the server; links for the other systems are always there.
 */
import { type Platform, PLATFORMS, PLATFORM_LABELS } from "./installers.ts";

export const SETUP_PAGE_CSP =
  "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

const STYLE = `body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;line-height:1.5;color:#222}
a.button{display:inline-block;padding:.8rem 1.4rem;background:#1a5fb4;color:#fff;border-radius:.4rem;text-decoration:none;font-size:1.2rem}
code,pre{background:#f3f3f3;padding:.2rem .4rem;border-radius:.2rem}pre{padding:.8rem;white-space:pre-wrap;word-break:break-all}
small{color:#555}`;

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body>${body}</body></html>`;
}

export type SetupPageInput = {
  code: string;
  nodeName: string;
  expiresAt: Date;
  origin: string;
  /** The platform guessed from the User-Agent, null when unknown. */
  detected: Platform | null;
};

export function installCommand(origin: string, code: string): string {
  return `curl -fsSL ${origin}/setup/${code}/install.sh | sh`;
}

export function setupPage(input: SetupPageInput): string {
  const { code, origin } = input;
  const download = (platform: Platform) => `${origin}/setup/${code}/download/${platform}`;
  const oneLine = `<pre>${escapeHtml(installCommand(origin, code))}</pre>
<p><small>This downloads the Buhdi program for your computer from this site, installs it in your
home folder (<code>~/.local/share/buhdi</code> on Linux, <code>~/Library/Application Support/Buhdi</code>
on a Mac), connects it to your account with this link's code, and starts it now and whenever you
log in. It needs no administrator password. To remove it later: <code>~/.local/share/buhdi/buhdi-node uninstall</code>
(Linux) or <code>"~/Library/Application Support/Buhdi/buhdi-node" uninstall</code> (Mac).</small></p>`;
  const primary = (() => {
    switch (input.detected) {
      case "windows-x64":
        return `<p>For this Windows computer:</p>
<p><a class="button" href="${escapeHtml(download("windows-x64"))}">Download Buhdi for Windows</a></p>
<p>Open the downloaded file. It installs for you alone (no administrator password), connects
this computer to your account and starts Buhdi now and every time you log in.</p>`;
      case "linux-x64":
      case "macos-x64":
      case "macos-arm64":
        return `<p>For this ${input.detected === "linux-x64" ? "Linux computer" : "Mac"}, open a terminal and paste this line:</p>${oneLine}`;
      case null:
        return `<p>We could not tell which system this computer runs; pick yours below.</p>`;
    }
  })();
  const others = PLATFORMS.map(
    (platform) => `<li><a href="${escapeHtml(download(platform))}">${escapeHtml(PLATFORM_LABELS[platform])}</a></li>`,
  ).join("\n");
  return layout(
    "Set up Buhdi",
    `<h1>Set up Buhdi on “${escapeHtml(input.nodeName)}”</h1>
${primary}
<h2>Other systems</h2>
<ul>
${others}
</ul>
${input.detected === "windows-x64" ? `<p>On Linux or a Mac, this one line in a terminal does the same:</p>${oneLine}` : ""}
<p><small>This link works once: the first computer set up with it joins your account. It is valid
until ${escapeHtml(input.expiresAt.toUTCString())}. Opening this page or downloading does not use it up.
Your code: <code>${escapeHtml(code)}</code></small></p>`,
  );
}

const UNUSABLE: Record<"malformed" | "unknown" | "used" | "expired" | "no_installer", { title: string; text: string }> = {
  malformed: {
    title: "This link is not complete",
    text: "The setup link seems cut off or mistyped. Open the link you received again, or ask for a new one.",
  },
  unknown: {
    title: "This link does not work",
    text: "We do not know this setup link. Check that it was copied completely, or ask for a new one.",
  },
  used: {
    title: "This link was already used",
    text: "A computer has already been set up with this link, and each link works only once. If you want to set up another computer, ask for a new link.",
  },
  expired: {
    title: "This link has expired",
    text: "Setup links only work for a limited time, and this one is too old now. Ask for a new link.",
  },
  no_installer: {
    title: "Not available yet",
    text: "The Buhdi program for this system is not available for download right now. Please try again later, or ask the person who sent you the link.",
  },
};

export function unusablePage(reason: keyof typeof UNUSABLE): string {
  const { title, text } = UNUSABLE[reason];
  return layout(title, `<h1>${escapeHtml(title)}</h1><p>${escapeHtml(text)}</p>`);
}

/**
 * The one-line installer (`curl … | sh`) for Linux and macOS. The code and origin are checked
 * values (the code matches the enrollment pattern; the origin is this request's), and quoted.
 */
export function installScript(origin: string, code: string): string {
  return `#!/bin/sh
# Buhdi setup: downloads the Buhdi program for this computer from ${origin},
# then runs its "setup": install in your home folder, connect with code ${code}, start at login.
set -eu
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64|Linux-amd64) platform=linux-x64 ;;
  Darwin-x86_64) platform=macos-x64 ;;
  Darwin-arm64) platform=macos-arm64 ;;
  *) echo "Buhdi does not run on $(uname -s) $(uname -m) yet." >&2; exit 1 ;;
esac
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "Downloading Buhdi for $platform..."
curl -fsSL -o "$tmp/download" '${origin}/setup/${code}/download/'"$platform"
# Every download is a tar.gz holding buhdi/buhdi-node; setup copies what it needs.
tar -xzf "$tmp/download" -C "$tmp"
"$tmp/buhdi/buhdi-node" setup --code '${code}' --server '${origin}'
`;
}
