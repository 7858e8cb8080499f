/**
 * What may reach an email's headers. Addresses pass one strict check (zod's email: a plain
 * `local@domain.tld`, no display name, no quotes, no spaces, so no CR or LF), and every other
 * text that becomes a header (a subject holding a node's name or a crash line) is made one line
 * here first. The binding builds the MIME message; this keeps anything from outside from
 * smuggling a header (`\r\nBcc: …`) into it.
 */
import { z } from "zod";

export const EmailAddress = z.email().max(254);

/** The address, trimmed, or null if it is not one. */
export function emailAddress(value: string | null | undefined): string | null {
  const parsed = EmailAddress.safeParse(value?.trim());
  return parsed.success ? parsed.data : null;
}

/** `a@x.com, b@y.com` → both; each entry that is not an address is named in `invalid`. */
export function addressList(value: string | undefined): { addresses: string[]; invalid: string[] } {
  const entries = (value ?? "")
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
  const addresses: string[] = [];
  const invalid: string[] = [];
  for (const entry of entries) {
    const address = emailAddress(entry);
    if (address) {
      if (!addresses.includes(address)) addresses.push(address);
    } else invalid.push(entry);
  }
  return { addresses, invalid };
}

/** Subjects stay short enough to read in a list (RFC 5322 allows more; mail apps show ~70). */
export const MAX_SUBJECT_CHARS = 150;

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const NOT_ONE_LINE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g;

/**
 * One line of header text: every control character (CR, LF, tab, NUL, DEL, C1), Unicode line and
 * paragraph separator becomes a space, runs of spaces shrink to one, and the result is cut to `max`.
 */
export function headerText(value: string, max = MAX_SUBJECT_CHARS): string {
  const flat = value.replace(NOT_ONE_LINE, " ").replace(/ {2,}/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
