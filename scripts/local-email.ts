/**
 * The emails a local edge sends, as the person would get them. Under `wrangler dev` the send_email
 * binding delivers nothing: it logs each message's From, To and Subject and the files it wrote the
 * text and HTML parts to (under .wrangler/tmp, removed when wrangler stops). This reads that log as
 * wrangler writes it, and each part's file at once, for `npm start`, `npm run demo` and the tests.
 * It relies on the local binding's log format (miniflare's send_email worker); a change there shows
 * up as the demo's and the e2e tests' emails not arriving.
 */
import { copyFile, mkdir, readFile } from "node:fs/promises";
import path from "node:path";

export type LocalEmail = {
  from: string;
  to: string;
  subject: string;
  text: string;
  html: string;
  /** Where the HTML part was kept (keepHtmlIn), to open in a browser; null when not kept. */
  htmlFile: string | null;
};

const START = "send_email binding called with MessageBuilder:";
// biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI colour codes start with ESC.
const ANSI = /\u001b\[[0-9;]*m/g;

type Pending = { from?: string; to?: string; subject?: string; textFile?: string; htmlFile?: string };

/**
 * Feed it wrangler's output (stdout and stderr, in any chunks); it calls onEmail once per email,
 * in the order they were sent. `keepHtmlIn`: a directory to copy each HTML part into, since
 * wrangler's own copy goes when it stops.
 */
export function emailLogReader(onEmail: (email: LocalEmail) => void, options: { keepHtmlIn?: string } = {}) {
  let partial = "";
  let pending: Pending | null = null;
  // One at a time, so emails arrive in the order they were logged.
  let reading: Promise<void> = Promise.resolve();

  const finish = (email: Pending) => {
    reading = reading.then(async () => {
      try {
        onEmail(await readEmail(email, options.keepHtmlIn));
      } catch (error) {
        console.error(`could not read a local email's parts: ${String(error)}`);
      }
    });
  };

  const line = (raw: string) => {
    const text = raw.replace(ANSI, "").replace(/^\[wrangler:\w+\]\s*/, "");
    if (text.includes(START)) {
      pending = {};
      return;
    }
    if (!pending) return;
    const [, key, value] = /^(From|To|Subject|Text|HTML): (.*)$/.exec(text) ?? [];
    if (key === "From") pending.from = value;
    else if (key === "To") pending.to = value;
    else if (key === "Subject") pending.subject = value;
    else if (key === "Text") pending.textFile = value;
    else if (key === "HTML") pending.htmlFile = value;
    else if (text.trim() !== "" || pending.textFile) {
      // The block ended (the edge always sends both parts, so this is a message without them).
      finish(pending);
      pending = null;
      return;
    }
    if (pending?.htmlFile) {
      finish(pending);
      pending = null;
    }
  };

  return {
    push(chunk: string): void {
      const lines = (partial + chunk).split("\n");
      partial = lines.pop() ?? "";
      for (const l of lines) line(l.replace(/\r$/, ""));
    },
    /** Resolves once every email logged so far has been read. */
    settled: (): Promise<void> => reading,
  };
}

async function readEmail(email: Pending, keepHtmlIn: string | undefined): Promise<LocalEmail> {
  const text = email.textFile ? await readFile(email.textFile, "utf8") : "";
  const html = email.htmlFile ? await readFile(email.htmlFile, "utf8") : "";
  let htmlFile: string | null = null;
  if (email.htmlFile && keepHtmlIn) {
    await mkdir(keepHtmlIn, { recursive: true });
    htmlFile = path.join(keepHtmlIn, path.basename(email.htmlFile));
    await copyFile(email.htmlFile, htmlFile);
  }
  return { from: email.from ?? "", to: email.to ?? "", subject: email.subject ?? "", text, html, htmlFile };
}

/** The email as its reader sees it: the headers they read, then the text part in full. */
export function formatEmail(email: LocalEmail, indent = ""): string {
  const rule = "─".repeat(72);
  const lines = [
    rule,
    `From:    ${email.from}`,
    `To:      ${email.to}`,
    `Subject: ${email.subject}`,
    "",
    ...email.text.trimEnd().split("\n"),
    ...(email.htmlFile ? ["", `(The HTML part, as a mail app shows it: ${email.htmlFile})`] : []),
    rule,
  ];
  return lines.map((l) => (l === "" ? "" : `${indent}${l}`)).join("\n");
}
