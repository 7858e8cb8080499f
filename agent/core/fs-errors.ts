/** A missing file is a normal state for the agent (not enrolled yet, no crash yet); tell it apart. */
export function isMissing(error: unknown): boolean {
  return error instanceof Error && "code" in error && error.code === "ENOENT";
}
