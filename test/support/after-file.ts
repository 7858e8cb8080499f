/**
 * Set-up file of every Node test file. After the file, every local edge it started is stopped,
 * also one a timed-out hook left starting (without it such an edge runs on, loading the machine
 * for every file after it); then the temp dirs the file and its edges made are removed.
 */
import { afterAll, beforeAll } from "vitest";
import { allowLocalEdges, stopLocalEdges } from "../../scripts/local-edge.ts";
import { removeTempDirs } from "./temp-dirs.ts";

beforeAll(() => allowLocalEdges());
afterAll(async () => {
  await stopLocalEdges();
  await removeTempDirs();
});
