/**
 * Writes test/fixtures/crashes.ts: crash.log contents produced by real processes, turned into the
 * lines the agent would upload. The triage tests must match text Node itself prints, not text a
 * person typed, so every fixture here comes from a process that really died:
 *   - EADDRINUSE: the real agent (`agent/cli.ts run`) on a port another process holds, the
 *     zombie-node bug, until its program has died twice: a two-death crash loop;
 *   - WATCHDOG: test/fixtures/crash-programs/watchdog.ts, a stand-in for the daemon's watchdog
 *     (see that file), for the second known-issue pattern;
 *   - three unknown crashes (TypeError, JSON.parse SyntaxError, ENOENT) from the programs in
 *     test/fixtures/crash-programs/, each under the agent's own crash capture;
 *   - SIGKILL: the real agent's supervised program killed with SIGKILL (what the kernel's OOM
 *     killer sends), so the only record is the supervisor's EXIT line.
 *
 * The lines go through the agent's own upload path (crashLines: blank lines dropped, last 50,
 * home scrubbed, long lines cut) after two renames so no path of this machine is committed: the
 * repository becomes /app and each temp BUHDI_NODE_HOME becomes ~/.buhdi-node (what it stands
 * for). The script refuses to write if any machine path is left.
 *
 * Run: node_modules/.bin/node scripts/capture-crash-fixtures.ts
 */
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { crashLines } from "../agent/crash/report.ts";
import { makeScrubber } from "../agent/crash/scrub.ts";

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const OUTPUT = path.join(REPO_ROOT, "test", "fixtures", "crashes.ts");
const PROGRAMS = path.join(REPO_ROOT, "test", "fixtures", "crash-programs");
const CLI = path.join(REPO_ROOT, "agent", "cli.ts");
const NEUTRAL_REPO = "/app";
const NEUTRAL_HOME = "~/.buhdi-node";
const TIMEOUT_MS = 30_000;
/** A record header as the agent writes it: "[ISO time] KIND: ...". */
const RECORD_HEADER = /^\[\d{4}-\d\d-\d\dT[\d:.]+Z\] [A-Z_]+/m;

type Exit = { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string };
type Fixture = { name: string; doc: string; lines: string[] };

/** An enrolled-looking home (as test/agent/helpers.ts fakeEnrolledHome): no server ever answers. */
async function enrolledHome(): Promise<string> {
  const home = await mkdtemp(path.join(os.tmpdir(), "buhdi-fixture-"));
  // Port 9 (discard) on loopback: the agent's startup report fails fast and quietly.
  await writeFile(
    path.join(home, "config.json"),
    JSON.stringify({ server: "http://127.0.0.1:9", node_id: "8a0c6a56-52a3-4f39-9e9b-0b6c1c4f6f34" }),
  );
  await writeFile(path.join(home, "node.key"), "bnk_fixture_key_that_no_server_knows\n", { mode: 0o600 });
  return home;
}

async function holdPort(): Promise<{ port: number; close(): Promise<void> }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { port, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

function countRecords(text: string): number {
  return text.split("\n").filter((line) => RECORD_HEADER.test(line)).length;
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch {
    return "";
  }
}

/**
 * Runs one process until it exits. If `stopWhen` says the crash we want is already in
 * crash.log while the process lives on (a supervisor that restarts its child), it gets SIGTERM.
 */
function run(args: string[], env: Record<string, string>, stopWhen?: () => Promise<boolean>): Promise<Exit> {
  const child = spawn(process.execPath, args, { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    let exited = false;
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${args.join(" ")} did not finish within ${TIMEOUT_MS} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, TIMEOUT_MS);
    const poll = async (): Promise<void> => {
      while (!exited && stopWhen) {
        if (await stopWhen()) {
          child.kill("SIGTERM");
          return;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    void poll();
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      exited = true;
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** The EADDRINUSE records in crash.log text; each is one death of the node program. */
function addressInUseDeaths(text: string): number {
  return text.split("\n").filter((line) => /^\[[^\]]+\] UNCAUGHT: .*EADDRINUSE/.test(line)).length;
}

/**
 * The text up to the end of the `deaths`-th death: its record and the EXIT line that closes it
 * (the crash capture's own "EXIT code=1", or the supervisor's "[time] EXIT code=1 signal=null
 * after 0.3 s"). Null while that death is not complete in the text.
 */
function throughDeath(text: string, deaths: number): string | null {
  const lines = text.split("\n");
  let seen = 0;
  for (const [index, line] of lines.entries()) {
    if (/^\[[^\]]+\] UNCAUGHT: .*EADDRINUSE/.test(line)) seen += 1;
    else if (seen === deaths && /^(?:\[[^\]]+\] )?EXIT code=/.test(line)) return `${lines.slice(0, index + 1).join("\n")}\n`;
  }
  return null;
}

async function captureAddressInUse(): Promise<string[]> {
  const home = await enrolledHome();
  const held = await holdPort();
  const env = { BUHDI_NODE_HOME: home, BUHDI_NODE_PORT: String(held.port) };
  const crashLog = path.join(home, "crash.log");
  try {
    // Two deaths: the crash loop a zombie node causes, so triage must pick the last record.
    // `run` as the supervisor restarts the program by itself and is stopped once both deaths
    // are recorded; a `run` that is the program itself dies once per start, so it is run again.
    for (let start = 1; throughDeath(await readText(crashLog), 2) === null; start++) {
      if (start > 2) throw new Error(`no two complete EADDRINUSE deaths in crash.log:\n${await readText(crashLog)}`);
      const exit = await run([CLI, "run"], env, async () => throughDeath(await readText(crashLog), 2) !== null);
      if (addressInUseDeaths(await readText(crashLog)) === 0) {
        throw new Error(`the agent did not record EADDRINUSE (code ${exit.code}, signal ${exit.signal})\n${exit.stderr}`);
      }
    }
    // A supervisor may restart a third program before it sees SIGTERM: keep the first two deaths.
    return toUploaded(throughDeath(await readText(crashLog), 2) ?? "", home);
  } finally {
    await held.close();
    await rm(home, { recursive: true, force: true });
  }
}

async function captureProgram(program: string, check: (exit: Exit) => string | null): Promise<string[]> {
  const home = await enrolledHome();
  try {
    const exit = await run([path.join(PROGRAMS, program)], { BUHDI_NODE_HOME: home });
    const problem = check(exit);
    if (problem) throw new Error(`${program}: ${problem}\nstderr: ${exit.stderr}`);
    const text = await readText(path.join(home, "crash.log"));
    if (countRecords(text) !== 1) throw new Error(`${program}: expected one crash record, crash.log holds:\n${text}`);
    return toUploaded(text, home);
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}

const diedWithCode1 = (exit: Exit): string | null => (exit.code === 1 ? null : `exited with ${exit.code ?? exit.signal}, not 1`);

/**
 * A death with no last words: the supervised node program killed with SIGKILL (what the kernel's
 * OOM killer sends). The program can record nothing; the line is the one the real supervisor
 * (`run`) writes for it. The supervisor is then stopped with SIGTERM.
 */
async function captureKilled(): Promise<string[]> {
  const home = await enrolledHome();
  const crashLog = path.join(home, "crash.log");
  try {
    let stdout = "";
    let stderr = "";
    let killed = false;
    // Port 0: the program listens on a free port and stays up until it is killed.
    const child = spawn(process.execPath, [CLI, "run"], {
      cwd: REPO_ROOT,
      env: { ...process.env, BUHDI_NODE_HOME: home, BUHDI_NODE_PORT: "0" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    // The program shares the supervisor's stdout and stderr: its pid comes from the supervisor's
    // "started the node program (pid N)", and it is killed once it says it is listening, so the
    // kill hits a running program rather than one still starting.
    const killWhenListening = (): void => {
      const pid = /started the node program \(pid (\d+)\)/.exec(stderr)?.[1];
      if (killed || pid === undefined || !/listening on/.test(stdout)) return;
      killed = true;
      process.kill(Number(pid), "SIGKILL");
    };
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      killWhenListening();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      killWhenListening();
    });
    try {
      await waitFor(async () => /EXIT code=null signal=SIGKILL/.test(await readText(crashLog)), TIMEOUT_MS);
    } catch {
      throw new Error(`the supervisor wrote no SIGKILL exit (is \`run\` the supervisor?)\nstderr: ${stderr}`);
    } finally {
      child.kill("SIGTERM");
      await exited;
    }
    const line = (await readText(crashLog)).split("\n").find((l) => /EXIT code=null signal=SIGKILL/.test(l));
    return toUploaded(`${line}\n`, home);
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** crash.log text → uploaded lines, with this machine's paths renamed (see the header). */
function toUploaded(text: string, home: string | null): string[] {
  let neutral = text.replaceAll(REPO_ROOT, NEUTRAL_REPO);
  if (home !== null) neutral = neutral.replaceAll(home, NEUTRAL_HOME);
  const scrub = makeScrubber({ homedir: os.homedir(), username: currentUsername() });
  return crashLines(Buffer.from(neutral, "utf8"), scrub);
}

function currentUsername(): string {
  try {
    return os.userInfo().username;
  } catch {
    return "";
  }
}

/** Refuses to commit a fixture that still names a directory of this machine. */
function assertNoMachinePaths(fixtures: Fixture[]): void {
  const machinePaths = [REPO_ROOT, os.tmpdir(), os.homedir()].filter((p) => p.length > 1).map((p) => p.replace(/[\\/]+$/, ""));
  for (const fixture of fixtures) {
    for (const line of fixture.lines) {
      const leaked = machinePaths.find((p) => line.includes(`${p}/`) || line.includes(`${p}\\`) || line.includes(`${p}'`));
      if (leaked) throw new Error(`fixture ${fixture.name} still contains ${leaked}: ${line}`);
    }
  }
}

function render(fixtures: Fixture[]): string {
  const header = `/**
 * GENERATED by scripts/capture-crash-fixtures.ts; do not edit by hand. Regenerate with:
 *   node_modules/.bin/node scripts/capture-crash-fixtures.ts
 *
 * Crash reports from real processes (Node ${process.version}, ${process.platform}): each constant is the
 * \`entries\` a node would upload, i.e. its crash.log lines after the agent's own upload path
 * (blank lines dropped, home scrubbed to ~). Machine paths are renamed: the repository to
 * ${NEUTRAL_REPO}, the temp node home to ${NEUTRAL_HOME}. Times, ports and line numbers are whatever
 * the run produced.
 */
`;
  const body = fixtures
    .map(
      (f) =>
        `/** ${f.doc} */\nexport const ${f.name}: readonly string[] = [\n${f.lines.map((l) => `  ${JSON.stringify(l)},`).join("\n")}\n];\n`,
    )
    .join("\n");
  return `${header}\n${body}`;
}

async function main(): Promise<void> {
  const fixtures: Fixture[] = [
    {
      name: "EADDRINUSE_CRASH_LOOP",
      doc: "The real agent on a port another process held: its program died twice of EADDRINUSE.",
      lines: await captureAddressInUse(),
    },
    {
      name: "WATCHDOG_EXIT",
      doc: "The watchdog stand-in (test/fixtures/crash-programs/watchdog.ts) exiting past its max uptime.",
      lines: await captureProgram(
        "watchdog.ts",
        (exit) =>
          diedWithCode1(exit) ?? (/called by watchdog: max uptime/.test(exit.stderr) ? null : "printed no watchdog reason on stderr"),
      ),
    },
    {
      name: "TYPE_ERROR_CRASH",
      doc: "Unknown crash: TypeError reading a property of undefined in a timer callback.",
      lines: await captureProgram("type-error.ts", diedWithCode1),
    },
    {
      name: "JSON_PARSE_REJECTION",
      doc: "Unknown crash: SyntaxError from JSON.parse on a truncated state, as an unhandled rejection.",
      lines: await captureProgram("json-parse.ts", diedWithCode1),
    },
    {
      name: "ENOENT_CRASH",
      doc: "Unknown crash: ENOENT from fs.readFileSync of a missing file in the node home.",
      lines: await captureProgram("enoent.ts", diedWithCode1),
    },
    {
      name: "SIGKILL_EXIT",
      doc: "A death with no crash record: the supervisor's EXIT line for its program killed by SIGKILL.",
      lines: await captureKilled(),
    },
  ];
  assertNoMachinePaths(fixtures);
  await writeFile(OUTPUT, render(fixtures));
  process.stdout.write(
    `wrote ${path.relative(REPO_ROOT, OUTPUT)} (${fixtures.map((f) => `${f.name}: ${f.lines.length} lines`).join(", ")})\n`,
  );
}

await main();
