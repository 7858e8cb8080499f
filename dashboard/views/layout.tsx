/** @jsxImportSource hono/jsx */
/**
 * The page shell every dashboard view shares. Server-rendered: every name, owner name and crash
 * line goes through JSX text, which escapes it, never through raw HTML. The only script is
 * /assets/app.js (no inline script: the Content-Security-Policy forbids it).
 */
import type { Child } from "hono/jsx";

export type Nav = "nana" | "support" | null;

const SUPPORT_LINKS: Array<[string, string]> = [
  ["/support", "Fleet"],
  ["/support/crash-groups", "Crash groups"],
  ["/support/bridge", "Bridge inbox"],
  ["/support/known-issues", "Known issues"],
  ["/support/releases", "Releases"],
  ["/support/invitations", "Invitations"],
];

export function Page(props: { title: string; nav: Nav; current?: string; children: Child }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{props.title} · Buhdi</title>
        <link rel="icon" href="/assets/favicon.svg" type="image/svg+xml" />
        <link rel="stylesheet" href="/assets/style.css" />
        <script src="/assets/app.js" defer></script>
      </head>
      <body class={props.nav === "nana" ? "nana" : "support"}>
        <a class="skip" href="#main">
          Skip to content
        </a>
        <header>
          <span class="brand">Buhdi</span>
          {props.nav === "support" && (
            <nav aria-label="IT Support">
              <ul>
                {SUPPORT_LINKS.map(([href, label]) => (
                  <li>
                    <a href={href} aria-current={props.current === href ? "page" : undefined}>
                      {label}
                    </a>
                  </li>
                ))}
              </ul>
            </nav>
          )}
          {props.nav !== null && (
            <form method="post" action="/auth/sign-out" class="sign-out">
              <button type="submit">Sign out</button>
            </form>
          )}
        </header>
        <main id="main">{props.children}</main>
      </body>
    </html>
  );
}

/** A time shown as HH:MM UTC by the server; app.js rewrites it in the reader's own time zone. */
export function Time(props: { at: Date | string | null; withDate?: boolean }) {
  if (props.at === null) return <span>never</span>;
  const at = typeof props.at === "string" ? new Date(props.at) : props.at;
  const iso = at.toISOString();
  const text = props.withDate ? `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC` : `${iso.slice(11, 16)} UTC`;
  return (
    <time datetime={iso} data-local={props.withDate ? "datetime" : "time"}>
      {text}
    </time>
  );
}
