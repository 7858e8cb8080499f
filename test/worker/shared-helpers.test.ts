/**
 * The helpers the worker shares instead of copying: hex encoding, ids derived
 * from content, and zod issues in the API's error shape.
 */
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { describeIssues, issuesFrom } from "../../protocol/errors.ts";
import { uuidFromSha256Hex } from "../../protocol/uuid.ts";
import { toHex } from "../../worker/crypto.ts";
import { updateCommandId } from "../../worker/releases/push.ts";

describe("toHex", () => {
  it("writes two lowercase digits per byte, leading zeros kept", () => {
    expect(toHex(new Uint8Array([0x00, 0x0f, 0xa0, 0xff]))).toBe("000fa0ff");
  });

  it("reads an ArrayBuffer as well as a view", () => {
    expect(toHex(new Uint8Array([1, 2, 254]).buffer)).toBe("0102fe");
  });
});

describe("ids derived from content", () => {
  it("keeps update command ids byte-identical to the ones already stored", async () => {
    // Computed with the recipe before it moved to protocol/: a different id would push the update again.
    expect(await updateCommandId("00000000-0000-4000-8000-000000000001", "0.3.1")).toBe("cdda4470-9043-8fdb-ac74-9ee9d61e508d");
  });

  it("makes a version-8 UUID with variant nibble a from the digest's first 128 bits", () => {
    const id = uuidFromSha256Hex("0123456789abcdef".repeat(4));
    expect(id).toBe("01234567-89ab-8def-a123-456789abcdef");
    expect(z.uuid().safeParse(id).success).toBe(true);
  });

  it("refuses something that is not a hex digest", () => {
    expect(() => uuidFromSha256Hex("abc")).toThrow(/hex/);
    expect(() => uuidFromSha256Hex("Z".repeat(64))).toThrow(/hex/);
  });
});

describe("zod issues in the API's shape", () => {
  const Schema = z.object({ entries: z.array(z.string().max(3)), details: z.object({ stage: z.string() }) });

  it("names nested fields with dots and array items with brackets", () => {
    const parsed = Schema.safeParse({ entries: ["ok", "too long"], details: { stage: 1 } });
    expect(parsed.success).toBe(false);
    expect(issuesFrom(parsed.error!).map((i) => i.path)).toEqual(["entries[1]", "details.stage"]);
  });

  it("names an issue with the whole value by the root it is given", () => {
    const parsed = Schema.safeParse("not an object");
    expect(issuesFrom(parsed.error!)[0]!.path).toBe("(body)");
    expect(issuesFrom(parsed.error!, "payload")[0]!.path).toBe("payload");
  });

  it("puts every issue on one line for logs", () => {
    const parsed = Schema.safeParse({ entries: ["too long"], details: {} });
    expect(describeIssues(parsed.error!)).toMatch(/^entries\[0\]: .+; details\.stage: .+$/);
  });
});
