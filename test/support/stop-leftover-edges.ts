/**
 * Set-up file of every Node test file: after the file, every local edge it started is stopped,
 * also one a timed-out hook left starting. Without it such an edge runs on, loading the machine
 * for every file after it.
 */
import { afterAll, beforeAll } from "vitest";
import { allowLocalEdges, stopLocalEdges } from "../../scripts/local-edge.ts";

beforeAll(() => allowLocalEdges());
afterAll(() => stopLocalEdges());
