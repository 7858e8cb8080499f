/** What went wrong, in one line, from anything a `catch` can hold. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
