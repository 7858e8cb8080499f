/**
 * The Windows installer carries the enrollment code in its own file name
 * (`Buhdi-Setup-K7Q4-MX2B-9D3F-RT8W.msi`, as the setup page names the download). Browsers add
 * " (1)" to a second download and people rename files, so the code is searched for anywhere in
 * the name, in either case, and checked against the code pattern.
 */
import path from "node:path";
import { ENROLLMENT_CODE_PATTERN } from "../../protocol/enrollment.ts";

const CODE_IN_NAME = /Buhdi-Setup-([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})/i;

export function codeFromFileName(file: string): string | null {
  // Windows paths arrive here on every system (tests), so both separators count.
  const name = path.win32.basename(file);
  const match = CODE_IN_NAME.exec(name);
  if (!match?.[1]) return null;
  const code = match[1].toUpperCase();
  return ENROLLMENT_CODE_PATTERN.test(code) ? code : null;
}
