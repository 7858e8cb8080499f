/**
 * How long a node keeps trying to download an update: long enough to outlast an edge restart or a
 * dropped network, short enough to end inside the SOFTWARE_UPDATE command's deadline.
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_COMMAND_DEADLINES_MS } from "../../../agent/commands/handler.ts";
import { downloadRetryDelaysMs } from "../../../agent/program/tuning.ts";

const sum = (delays: number[]) => delays.reduce((a, b) => a + b, 0);

describe("the download retry schedule", () => {
  it("waits from 2 s, doubling, nine times: 17 minutes in all, inside the command's deadline", () => {
    const delays = downloadRetryDelaysMs({});
    expect(delays).toEqual([2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 128_000, 256_000, 512_000]);
    expect(sum(delays)).toBe(1_022_000);
    expect(sum(delays)).toBeLessThan(DEFAULT_COMMAND_DEADLINES_MS.SOFTWARE_UPDATE);
  });

  it("takes its first wait and its number of retries from the environment", () => {
    expect(downloadRetryDelaysMs({ BUHDI_NODE_DOWNLOAD_RETRY_MS: "20", BUHDI_NODE_DOWNLOAD_RETRIES: "2" })).toEqual([20, 40]);
    expect(downloadRetryDelaysMs({ BUHDI_NODE_DOWNLOAD_RETRIES: "0" })).toEqual([]);
    expect(downloadRetryDelaysMs({ BUHDI_NODE_DOWNLOAD_RETRIES: "lots" })).toHaveLength(9);
  });
});
