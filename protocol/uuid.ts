/**
 * Ids derived from content, in UUID shape (the protocol's ids are UUIDs): the
 * same input always gives the same id, so a retried action is recognised as
 * the same one.
 */

/**
 * An RFC 9562 version-8 UUID from a SHA-256 hex digest: its first 128 bits with
 * the version nibble set to 8 and the variant nibble to `a`. Command ids made this
 * way are stored by the edge; changing the recipe would make every stored id new.
 */
export function uuidFromSha256Hex(hex: string): string {
  if (!/^[0-9a-f]{32,}$/.test(hex)) throw new Error("uuidFromSha256Hex needs at least 32 lowercase hex digits");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
