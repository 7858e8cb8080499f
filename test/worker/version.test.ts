import { describe, expect, it } from "vitest";
import { compareVersions, isOlder } from "../../protocol/version.ts";

describe("version order", () => {
  it.each([
    ["0.3.0", "0.3.1", -1],
    ["0.3.1", "0.3.1", 0],
    ["0.10.0", "0.9.9", 1],
    ["1.0.0-rc.1", "1.0.0", -1],
    ["1.0.0-rc.2", "1.0.0-rc.10", -1],
    ["1.0.0-alpha", "1.0.0-1", 1],
    ["1.0.0+build.7", "1.0.0", 0],
  ])("%s vs %s is %i", (a, b, expected) => {
    expect(compareVersions(a, b)).toBe(expected);
    expect(compareVersions(b, a)).toBe(-expected || 0);
  });

  it("a node on 0.3.0 is older than the 0.3.1 fix; one on 0.3.1 or later is not", () => {
    expect(isOlder("0.3.0", "0.3.1")).toBe(true);
    expect(isOlder("0.3.1", "0.3.1")).toBe(false);
    expect(isOlder("0.4.0", "0.3.1")).toBe(false);
  });
});
