/** @jsxImportSource hono/jsx */
/**
 * The HTML part's shell, rendered by the server with hono/jsx like the dashboard: every name,
 * crash line and link goes through JSX, which escapes it; nothing is pasted in as raw HTML.
 * Styles are inline attributes (mail apps drop <style> blocks and never run scripts).
 */
import type { Child } from "hono/jsx";

/** What a template makes; the subject is one line already (address.ts: headerText). */
export type ComposedEmail = { subject: string; text: string; html: string };

export function EmailShell(props: { title: string; children: Child }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{props.title}</title>
      </head>
      <body style="margin:0;padding:24px;background:#f4f4f4;font-family:system-ui,-apple-system,'Segoe UI',sans-serif;color:#222;line-height:1.5">
        <div style="max-width:560px;margin:0 auto;background:#fff;padding:24px;border-radius:8px">{props.children}</div>
      </body>
    </html>
  );
}

export function BigLink(props: { href: string; children: Child }) {
  return (
    <p style="margin:24px 0">
      <a href={props.href} style="display:inline-block;padding:14px 24px;background:#1a5fb4;color:#fff;border-radius:6px;text-decoration:none;font-size:20px">
        {props.children}
      </a>
    </p>
  );
}

export function Small(props: { children: Child }) {
  return <p style="color:#555;font-size:14px">{props.children}</p>;
}

export async function renderHtml(element: string | Promise<string>): Promise<string> {
  return `<!doctype html>${await element}`;
}

const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];

/** "9 December 2026": a date in plain words (UTC, the edge knows no reader's time zone). */
export function plainDate(at: Date): string {
  return `${at.getUTCDate()} ${MONTHS[at.getUTCMonth()]} ${at.getUTCFullYear()}`;
}

/** "9 December 2026, 14:02 UTC". */
export function plainDateTime(at: Date): string {
  return `${plainDate(at)}, ${at.toISOString().slice(11, 16)} UTC`;
}
