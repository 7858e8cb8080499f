/** @jsxImportSource hono/jsx */
/** The sign-in pages: the link's button, what a spent or expired link says, IT Support's form, signed out. */
import { Page } from "./layout.tsx";

export function SignInLinkPage(props: { token: string; ownerName: string }) {
  return (
    <Page title="Sign in" nav={null}>
      <h1>Hello {props.ownerName}</h1>
      <p>Press the button to see your computers.</p>
      <form method="post" action={`/auth/link/${props.token}`}>
        <button type="submit" class="big">
          Sign in
        </button>
      </form>
    </Page>
  );
}

export type LinkProblem = "used" | "expired" | "unknown";

const PROBLEM_TEXT: Record<LinkProblem, string> = {
  used: "This sign-in link has already been used. Each link works once.",
  expired: "This sign-in link has expired. A link works for 15 minutes, or up to 7 days in an invitation email: ask for a new one.",
  unknown: "This sign-in link is not valid.",
};

export function LinkProblemPage(props: { problem: LinkProblem }) {
  return (
    <Page title="This link does not work" nav={null}>
      <h1>This link does not work</h1>
      <p role="alert">{PROBLEM_TEXT[props.problem]}</p>
      <p>Please ask for a new sign-in link.</p>
    </Page>
  );
}

export function SupportSignInPage(props: { error?: string }) {
  return (
    <Page title="IT Support sign-in" nav={null}>
      <h1>IT Support sign-in</h1>
      {props.error && (
        <p role="alert" class="error">
          {props.error}
        </p>
      )}
      <form method="post" action="/auth/support">
        <label for="admin_token">Admin token</label>
        <input id="admin_token" name="admin_token" type="password" autocomplete="off" required />
        <button type="submit">Sign in</button>
      </form>
    </Page>
  );
}

export function MessagePage(props: { title: string; text: string; link?: { href: string; label: string } }) {
  return (
    <Page title={props.title} nav={null}>
      <h1>{props.title}</h1>
      <p>{props.text}</p>
      {props.link && <p><a href={props.link.href}>{props.link.label}</a></p>}
    </Page>
  );
}
