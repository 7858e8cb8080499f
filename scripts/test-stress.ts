/**
 * `npm run test:stress`: the whole suite (`npm test`) several times in a row while another
 * process keeps one of the machine's cores busy, to find tests that only pass when the machine
 * is idle. Not part of `npm test`.
 *
 *   npm run test:stress              # 5 runs
 *   STRESS_RUNS=2 npm run test:stress
 *
 * Each run's output goes to .tmp/stress/run-N.log; the summary names each failed test. Exits 1
 * if any run failed. Ctrl-C stops the suite and the CPU burner.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { createWriteStream } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const runs = Number(process.env.STRESS_RUNS ?? 5);
if (!Number.isInteger(runs) || runs < 1 || runs > 50) {
  console.error(`STRESS_RUNS must be a whole number from 1 to 50, not ${JSON.stringify(process.env.STRESS_RUNS)}`);
  process.exit(2);
}
const logDir = path.join(root, ".tmp", "stress");
await mkdir(logDir, { recursive: true });

const children = new Set<ChildProcess>();
const stopAll = (): void => {
  for (const child of children) {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) continue;
    try {
      process.kill(-child.pid, "SIGKILL"); // the whole group: npm, vitest, wrangler, workerd
    } catch {
      child.kill("SIGKILL");
    }
  }
};
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.once(signal, () => {
    stopAll();
    process.exit(130);
  });
}

// One core busy for the whole time, like another program on Nana's computer or a neighbour on CI.
const burner = spawn(process.execPath, ["-e", "for (;;) {}"], { stdio: "ignore", detached: true });
children.add(burner);

type Outcome = { run: number; code: number | null; seconds: number; failed: string[] };
const outcomes: Outcome[] = [];
for (let run = 1; run <= runs; run += 1) {
  const log = path.join(logDir, `run-${run}.log`);
  const started = Date.now();
  console.log(`run ${run} of ${runs} (output: ${path.relative(root, log)})`);
  const code = await new Promise<number | null>((resolve) => {
    const out = createWriteStream(log);
    // detached: its own process group, so a stop also reaches wrangler and workerd under it.
    const child = spawn("npm", ["test"], {
      cwd: root,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, FORCE_COLOR: "0" },
    });
    children.add(child);
    child.stdout?.pipe(out);
    child.stderr?.pipe(out);
    child.on("exit", (exitCode) => {
      children.delete(child);
      out.end(() => resolve(exitCode));
    });
  });
  const text = await readFile(log, "utf8");
  // vitest prints each failed test as "FAIL  project  file > suite > name".
  const failed = [
    ...new Set(
      text
        .split("\n")
        .filter((line) => /^\s*(FAIL|×)\s/.test(line))
        .map((line) => line.trim()),
    ),
  ];
  if (/Unhandled Errors?/.test(text)) failed.push("unhandled errors (see the log)");
  outcomes.push({ run, code, seconds: Math.round((Date.now() - started) / 1000), failed });
  console.log(`  ${code === 0 ? "passed" : `FAILED (exit ${code})`} in ${outcomes.at(-1)!.seconds} s`);
  for (const line of failed) console.log(`    ${line}`);
}
stopAll();

const bad = outcomes.filter((o) => o.code !== 0);
console.log(`\n${outcomes.length - bad.length} of ${outcomes.length} runs passed with one core kept busy.`);
console.log(`durations: ${outcomes.map((o) => `${o.seconds} s`).join(", ")}`);
process.exit(bad.length === 0 ? 0 : 1);
