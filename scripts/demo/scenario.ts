/**
 * Nana's scenario end to end, across real processes: the local edge (wrangler dev:
 * Worker, D1, Durable Objects, Queue, R2), the real agent built as signed release bundles, a
 * real zombie process, real crashes, a real webhook receiver, and the emails the edge hands its
 * local send_email binding (read from its log, scripts/local-email.ts). Nothing is simulated in
 * process; every check is made from the outside, through the edge's HTTP API, its emails and the
 * files the agent keeps. `npm run demo` narrates it (scripts/demo.ts); test/e2e/nana.test.ts runs it and
 * checks the world it leaves behind; the benchmark takes time_to_remediation_s from it.
 *
 *   1. owner "Nana" and her invitation email (the setup link), node "Kitchen Laptop" enrolled with
 *      its one-time code, signed releases 0.3.0 and 0.3.1 published, the agent (0.3.0) running
 *      under its supervisor;
 *   2. the node program hangs and its supervisor dies: a zombie holds the port. The OS's task
 *      starts buhdi-node again, and its node program dies of EADDRINUSE;
 *   3. restart, crash report, triage matches the seeded EADDRINUSE issue, SOFTWARE_UPDATE 0.3.1,
 *      verify + install + restart, 0.3.1 takes the port back, runs healthy: resolved (verified);
 *   4. 0.3.2, which dies on start, is pushed: the node rolls back to 0.3.1, the cloud halts 0.3.2;
 *   5. an unknown crash (the node program aborts: SIGABRT, as a Node process that runs out of
 *      memory does) repeats: one ticket, one bridge_comms message per report, one escalation,
 *      by webhook and by email.
 * Each step has a deadline; the first step that does not happen fails the run, and the ones
 * after it are "not reached".
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { startLocalEdge, type LocalEdge } from "../local-edge.ts";
import { formatEmail, type LocalEmail } from "../local-email.ts";
import { newReleaseKey, trustedKeysVar } from "../release-key.ts";
import { adminClient, type AdminClient, type TelemetryItem } from "./admin-client.ts";
import { agentFiles, installWithSetup, isAlive, startSupervisor, type AgentProcess } from "./node-process.ts";
import { BROKEN, BUGGY, buildDemoBundles, FIXED, linuxExecutable, publish } from "./releases.ts";
import { remediationTimeline, type RemediationTimeline } from "./remediation-phases.ts";
import { startWebhookReceiver, type Delivery } from "./webhook-receiver.ts";
import { messageOf } from "../../agent/core/errors.ts";

export type DemoSettings = {
  /** The node program's local port: 127.0.0.1:9847. */
  nodePort: number;
  /** Shortened clocks (production values in brackets in the narration). */
  heartbeatSeconds: number;
  verifyHealthySeconds: number;
  updateHealthyMs: number;
  crashLoopWindowMs: number;
  /** A program that ran this long restarts at once after its next crash (no backoff). */
  stableRunMs: number;
  /** How often the unknown crash of step 5 happens. */
  unknownCrashes: number;
  stepTimeoutMs: number;
};

export const DEMO_SETTINGS: DemoSettings = {
  nodePort: 9847,
  heartbeatSeconds: 2,
  verifyHealthySeconds: 10,
  updateHealthyMs: 10_000,
  crashLoopWindowMs: 5_000,
  stableRunMs: 5_000,
  unknownCrashes: 3,
  stepTimeoutMs: 120_000,
};

export type StepReport = {
  n: number;
  title: string;
  /** What was seen, in order; the last line is the step's outcome. */
  seen: string[];
  seconds: number;
  status: "ok" | "failed" | "not_reached";
  error?: string;
};

/** What the run set up, for checks from the outside before stop(). */
export type DemoWorld = {
  edgeUrl: string;
  adminToken: string;
  /** Where the local edge keeps D1, R2 and the rest (removed by a successful run's stop()). */
  edgeStateDir: string;
  nodeId: string;
  home: string;
  deliveries: Delivery[];
  /** Every email the edge sent, in order. */
  emails: LocalEmail[];
  /** The crash group of step 5's unknown crash. */
  unknownGroupId: string | null;
};

export type DemoRun = {
  ok: boolean;
  steps: StepReport[];
  /**
   * From the EADDRINUSE crash (its crash record) to the cloud verifying the node healthy on 0.3.1
   * (the resolutions' verified_at), health window included.
   */
  timeToRemediationS: number | null;
  /** The same span phase by phase (remediation-phases.ts); null if step 3 did not finish. */
  remediation: RemediationTimeline | null;
  healthWindowS: number;
  world: DemoWorld;
  /** The demo's temp dir: after stop() only the emails' HTML is left in it, or everything after a failed step. */
  dir: string;
  stop(): Promise<void>;
};

/** The demo edge's sender, and IT Support's person who gets escalations by email. */
export const DEMO_EMAIL = { from: "it-support@buhdi.test", escalationTo: "kriz@buhdi.test" };

const STEPS = [
  "Nana's laptop joins the fleet on 0.3.0",
  "A zombie holds the port: the node crashes (EADDRINUSE)",
  "Triage matches the known issue; 0.3.1 installs and is verified",
  "0.3.2 dies on start: rolled back, and the cloud halts it",
  "An unknown crash repeats: one ticket, one escalation (webhook and email)",
] as const;

export type DemoOptions = {
  /** Stop after this step (the benchmark needs only the remediation, steps 1-3). */
  through?: number;
  /** Called at once with the stop function, for a caller interrupted while the demo runs (Ctrl-C). */
  onStop?: (stop: () => Promise<void>) => void;
};

export async function runDemo(settings: DemoSettings, narrate: (line: string) => void, options: DemoOptions = {}): Promise<DemoRun> {
  const through = options.through ?? STEPS.length;
  const started = performance.now();
  const elapsed = () => (performance.now() - started) / 1000;
  const say = (line: string) => narrate(`[${elapsed().toFixed(1).padStart(6)} s] ${line}`);

  const dir = await mkdtemp(path.join(tmpdir(), "buhdi-demo-"));
  const home = path.join(dir, "home");
  const secret = randomBytes(24).toString("base64url");
  const key = newReleaseKey();
  const cleanups: Array<() => Promise<void> | void> = [];
  const world: DemoWorld = {
    edgeUrl: "",
    adminToken: "",
    edgeStateDir: "",
    nodeId: "",
    home,
    deliveries: [],
    emails: [],
    unknownGroupId: null,
  };
  /** An email in full, indented under the step's lines. */
  const show = (email: LocalEmail) => narrate(formatEmail(email, "           "));
  let edge: LocalEdge | null = null;
  /** A step failed and its evidence is in `dir`: stop() then leaves every file where it is. */
  let evidenceKept = false;
  let admin: AdminClient | null = null;
  let bundles: Record<string, string> = {};
  let crashAt: number | null = null;
  // Set by step 3; a holder, since TypeScript does not see assignments made inside the step bodies.
  const measured: { remediation: RemediationTimeline | null } = { remediation: null };
  const agentEnv: Record<string, string> = {
    BUHDI_NODE_HOME: home,
    BUHDI_INSTALL_DIR: path.join(dir, "install"),
    BUHDI_NODE_PORT: String(settings.nodePort),
    BUHDI_NODE_TRUSTED_KEYS: trustedKeysVar([key]),
    BUHDI_NODE_UPDATE_HEALTHY_MS: String(settings.updateHealthyMs),
    BUHDI_NODE_CRASH_LOOP_WINDOW_MS: String(settings.crashLoopWindowMs),
    BUHDI_NODE_STABLE_RUN_MS: String(settings.stableRunMs),
  };
  const supervisors: AgentProcess[] = [];
  /** The installed single executable, once setup ran. */
  let installed = "";
  const runSupervisor = (_version: string) => {
    const supervisor = startSupervisor(installed, agentEnv);
    supervisors.push(supervisor);
    return supervisor;
  };

  let stopping: Promise<void> | null = null;
  // Once, however many callers ask (the end of the run, a Ctrl-C, a test's afterAll).
  const stop = () => (stopping ??= stopEverything());
  const stopEverything = async () => {
    for (const supervisor of supervisors) {
      if (supervisor.child.exitCode === null && supervisor.child.signalCode === null) supervisor.child.kill("SIGTERM");
      await Promise.race([supervisor.exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
      supervisor.child.kill("SIGKILL");
    }
    // Whatever node program outlived its supervisor (the zombie, if the fix never came).
    const endpoint = (await agentFiles(home)).endpoint;
    if (endpoint && isAlive(endpoint.pid)) process.kill(endpoint.pid, "SIGKILL");
    for (const cleanup of cleanups.reverse()) await cleanup();
    if (evidenceKept) return;
    // Nobody reads the rest afterwards, and a run is over 100 MB (the installed agent, the cloud's
    // state). The emails' HTML stays: the narration pointed at it.
    const spent = (await readdir(dir)).filter((name) => name !== "emails").map((name) => path.join(dir, name));
    if (world.edgeStateDir) spent.push(world.edgeStateDir);
    await Promise.all(spent.map((file) => rm(file, { recursive: true, force: true })));
  };
  options.onStop?.(stop);

  /** Polls until ok(value); on timeout throws with what was last seen. */
  const until = async <T>(
    what: string,
    probe: () => Promise<T>,
    ok: (value: T) => boolean,
    timeoutMs = settings.stepTimeoutMs,
  ): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    let last: T | undefined;
    let lastError: unknown = null;
    while (Date.now() < deadline) {
      try {
        last = await probe();
        lastError = null;
        if (ok(last)) return last;
      } catch (error) {
        lastError = error;
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const detail = lastError ? String(lastError) : JSON.stringify(last)?.slice(0, 600);
    throw new Error(`did not see ${what} within ${Math.round(timeoutMs / 1000)} s (last: ${detail})`);
  };
  const nodeHealth = async () => {
    const response = await fetch(`http://127.0.0.1:${settings.nodePort}/health`, { signal: AbortSignal.timeout(1_000) });
    return (await response.json()) as { version: string; pid: number; uptime_s: number };
  };
  const telemetryOf = () => admin!.telemetry(world.nodeId);
  const crashReports = (items: TelemetryItem[], text: string) =>
    items.filter((t) => t.type === "crash_report" && (t.payload.entries ?? []).some((line) => line.includes(text)));

  const bodies: Array<(see: (line: string) => void) => Promise<void>> = [
    // 1. Set up: edge, owner, code, releases, enrollment, the agent on 0.3.0.
    async (see) => {
      if (!(await portIsFree(settings.nodePort))) {
        throw new Error(
          `127.0.0.1:${settings.nodePort} is already in use on this computer (another buhdi-node?); stop it or set BUHDI_DEMO_NODE_PORT`,
        );
      }
      const receiver = await startWebhookReceiver(secret);
      cleanups.push(() => receiver.close());
      world.deliveries = receiver.deliveries;
      const built = buildDemoBundles(path.join(dir, "releases"));
      edge = await startLocalEdge({
        vars: {
          RELEASE_PUBLIC_KEYS: trustedKeysVar([key]),
          HEARTBEAT_INTERVAL_SECONDS: String(settings.heartbeatSeconds),
          VERIFY_HEALTHY_SECONDS: String(settings.verifyHealthySeconds),
          ESCALATION_WEBHOOK_URL: receiver.url,
          ESCALATION_WEBHOOK_SECRET: secret,
          EMAIL_FROM: DEMO_EMAIL.from,
          ESCALATION_EMAIL_TO: DEMO_EMAIL.escalationTo,
        },
        onEmail: (email) => world.emails.push(email),
        keepEmailHtmlIn: path.join(dir, "emails"),
      });
      const running = edge;
      cleanups.push(() => running.stop());
      world.edgeUrl = edge.url;
      world.adminToken = edge.adminToken;
      world.edgeStateDir = edge.persistDir;
      admin = adminClient(edge.url, edge.adminToken);
      see(
        `local edge on ${edge.url} (wrangler dev: Worker, D1, Durable Objects, Queue, R2, send_email); escalations go to ${receiver.url} and ${DEMO_EMAIL.escalationTo}`,
      );
      const nanaEmail = `nana-${randomBytes(3).toString("hex")}@example.com`;
      const owner = await admin.createOwner(nanaEmail, "Nana");
      const { code, setup_url, email } = await admin.enrollmentCode(owner.owner_id, "Kitchen Laptop", { sendEmail: true });
      if (email?.status !== "queued") throw new Error(`the invitation email was not queued: ${JSON.stringify(email)}`);
      see(`owner "Nana" created; one-time enrollment code ${code} for "Kitchen Laptop"; her invitation email is queued`);
      bundles = await built;
      for (const version of [BUGGY, FIXED]) await publish(edge, key, version, bundles[version]!);
      see(`signed releases ${BUGGY} and ${FIXED} published to R2 (Ed25519 key ${key.keyId})`);
      const invitation = await until(
        "Nana's invitation email",
        async () => world.emails.filter((e) => e.to.includes(nanaEmail)),
        (emails) => emails.length > 0,
      );
      if (invitation.length !== 1 || !invitation[0]!.text.includes(setup_url)) {
        throw new Error(`expected one invitation with the setup link ${setup_url}, saw ${invitation.length}`);
      }
      see(`Nana's invitation email arrived (subject: ${invitation[0]!.subject}); its big link is the setup link ${setup_url}`);
      show(invitation[0]!);
      const sea = await linuxExecutable(bundles[BUGGY]!);
      const setup = await installWithSetup(sea, code, edge.url, agentEnv);
      world.nodeId = setup.nodeId;
      installed = setup.installed;
      see(`the Linux single executable (${BUGGY}) ran "setup": installed in ${path.dirname(installed)}, enrolled as node ${world.nodeId}`);
      runSupervisor(BUGGY);
      const health = await until("the node program answering on its port", nodeHealth, (h) => h.version === BUGGY);
      await until(
        "the node online on 0.3.0",
        () => admin!.node(world.nodeId),
        (n) => n.status === "online" && n.version === BUGGY,
      );
      see(
        `buhdi-node ${BUGGY} runs under its supervisor (node program pid ${health.pid} on 127.0.0.1:${settings.nodePort}); the cloud shows it online`,
      );
    },

    // 2. The zombie, and the crash.
    async (see) => {
      const zombie = (await agentFiles(home)).endpoint;
      if (!zombie || !isAlive(zombie.pid)) throw new Error("endpoint.json names no live node program");
      process.kill(zombie.pid, "SIGSTOP");
      cleanups.push(() => {
        if (!isAlive(zombie.pid)) return;
        process.kill(zombie.pid, "SIGKILL");
      });
      supervisors[0]!.child.kill("SIGKILL");
      await supervisors[0]!.exited;
      see(`the node program (pid ${zombie.pid}) hangs and its supervisor is killed: a zombie now holds 127.0.0.1:${settings.nodePort}`);
      runSupervisor(BUGGY);
      see(`the systemd unit (Restart=always) starts buhdi-node ${BUGGY} again`);
      const lines = await until(
        "an EADDRINUSE crash in crash.log",
        async () => (await agentFiles(home)).crashLines,
        (l) => l.some((line) => line.includes("EADDRINUSE")),
      );
      const crashLine = lines.find((line) => line.includes("EADDRINUSE"))!;
      crashAt = Date.parse(/^\[([^\]]+)\]/.exec(crashLine)?.[1] ?? "") || Date.now();
      see(`the node program died: ${crashLine.replace(/^\[[^\]]+\]\s*/, "").slice(0, 110)}`);
    },

    // 3. Report, triage, update, verification.
    async (see) => {
      const reports = await until("the crash report in the cloud", telemetryOf, (items) => crashReports(items, "EADDRINUSE").length > 0);
      const report = crashReports(reports, "EADDRINUSE").at(-1)!;
      see(`the supervisor restarted it and the crash report reached the cloud (${report.severity}, from ${report.node_version})`);
      const resolution = await until(
        "triage's decision",
        () => admin!.resolutions(world.nodeId),
        (items) => items.some((r) => r.action === "software_update" && r.fix_version === FIXED),
      );
      const decided = resolution.find((r) => r.action === "software_update")!;
      see(`triage matched the seeded issue "EADDRINUSE" (fixed in ${FIXED}): SOFTWARE_UPDATE ${decided.fix_version} queued for the node`);
      const commands = await until(
        "the update acknowledged",
        () => admin!.commands(world.nodeId),
        (items) => items.some((c) => c.type === "SOFTWARE_UPDATE" && c.ack?.status === "done"),
      );
      see(
        `the node verified the signature, installed ${FIXED} and acked: "${commands.find((c) => c.ack?.status === "done")!.ack!.detail}"`,
      );
      const health = await until(`the node program on ${FIXED}`, nodeHealth, (h) => h.version === FIXED);
      const files = await agentFiles(home);
      see(
        `${FIXED} restarted into, took 127.0.0.1:${settings.nodePort} back from the zombie (pid ${health.pid} now; current = ${files.current})`,
      );
      const telemetry = await until("the crash marked resolved (verified)", telemetryOf, (items) =>
        crashReports(items, "EADDRINUSE").every((t) => t.resolved),
      );
      const resolutions = await admin!.resolutions(world.nodeId);
      const verified = resolutions.filter((r) => r.state === "verified").length;
      const timeline = remediationTimeline({
        crashAt: crashAt!,
        crashReports: crashReports(telemetry, "EADDRINUSE"),
        telemetry,
        resolutions,
        commands: await admin!.commands(world.nodeId),
        fixVersion: FIXED,
        runningSince: (await agentFiles(home)).endpoint?.started_at ?? "",
        healthWindowS: settings.verifyHealthySeconds,
      });
      if ("missing" in timeline) throw new Error(`the remediation's ${timeline.missing} time is not recorded anywhere`);
      measured.remediation = timeline;
      see(
        `${FIXED} ran healthy for ${settings.verifyHealthySeconds} s: the crash reports are resolved, ${verified} resolution(s) verified`,
      );
    },

    // 4. A bad release: pushed, rolled back, halted.
    async (see) => {
      await publish(edge!, key, BROKEN, bundles[BROKEN]!);
      await admin!.push(BROKEN, [world.nodeId]);
      see(`release ${BROKEN} (its bundle dies on start) published and pushed to Kitchen Laptop`);
      await until(
        `${BROKEN} installed`,
        () => admin!.commands(world.nodeId),
        (items) =>
          items.some((c) => c.type === "SOFTWARE_UPDATE" && c.payload.manifest?.includes(`"${BROKEN}"`) && c.ack?.status === "done"),
      );
      see(`the node installed ${BROKEN} and restarted into it`);
      const files = await until(
        `the rollback from ${BROKEN}`,
        () => agentFiles(home),
        (f) => f.rolledBack.includes(BROKEN) && f.current === FIXED,
      );
      see(`${BROKEN} died on start; the supervisor rolled back to ${files.current} and will not install ${BROKEN} again`);
      await until(`the node back on ${FIXED}`, nodeHealth, (h) => h.version === FIXED);
      see(`Kitchen Laptop runs ${FIXED} again`);
      await until("update_rolled_back in the cloud", telemetryOf, (items) => items.some((t) => t.type === "update_rolled_back"));
      const halted = await until(
        `${BROKEN} halted`,
        () => admin!.releases(),
        (items) => items.some((r) => r.version === BROKEN && r.status === "halted"),
      );
      see(`the cloud heard the rollback and halted ${BROKEN} for every node (${halted.find((r) => r.version === BROKEN)!.halted_reason})`);
    },

    // 5. An unknown crash, several times.
    async (see) => {
      for (let i = 1; i <= settings.unknownCrashes; i++) {
        // Up long enough that this is a new crash, not a crash loop (whose reports are held back).
        const upFor = Math.max(settings.crashLoopWindowMs, settings.stableRunMs) + 1000;
        const health = await until("the node program up", nodeHealth, (h) => h.version === FIXED && h.uptime_s * 1000 >= upFor);
        process.kill(health.pid, "SIGABRT");
        await until(`crash report ${i}`, telemetryOf, (items) => crashReports(items, "SIGABRT").length >= i);
        see(`crash ${i} of ${settings.unknownCrashes}: the node program aborted (SIGABRT); restarted, and its report reached the cloud`);
      }
      const tickets = await until(
        "the ticket",
        () => admin!.tickets(),
        (items) => items.some((t) => t.title.includes("SIGABRT") && t.report_count === settings.unknownCrashes),
      );
      const ticket = tickets.find((t) => t.title.includes("SIGABRT"))!;
      world.unknownGroupId = ticket.crash_group_id;
      see(
        `exactly ${tickets.filter((t) => t.crash_group_id === ticket.crash_group_id).length} ticket: "${ticket.title}" (${ticket.report_count} reports)`,
      );
      const telemetryIds = new Set(
        (await admin!.resolutions(world.nodeId)).filter((r) => r.crash_group_id === ticket.crash_group_id).map((r) => r.telemetry_id),
      );
      const messages = (await admin!.bridge()).filter((m) => telemetryIds.has(m.telemetry_id));
      if (messages.length !== settings.unknownCrashes)
        throw new Error(`expected ${settings.unknownCrashes} bridge_comms messages, saw ${messages.length}`);
      see(`${messages.length} bridge_comms messages, one per report, pending for IT Support`);
      const escalations = () =>
        world.deliveries.filter((d) => d.body?.reason === "unknown_crash" && d.body.crash_group.id === ticket.crash_group_id);
      const escalationEmails = () =>
        world.emails.filter((e) => e.subject.startsWith("Buhdi escalation") && e.text.includes(ticket.crash_group_id));
      await until(
        "the escalation, by webhook and by email",
        async () => [escalations().length, escalationEmails().length],
        ([hooks, emails]) => hooks! >= 1 && emails! >= 1,
      );
      // One more queue batch: a second (flooding) escalation, by either way, would show up now.
      await new Promise((resolve) => setTimeout(resolve, 6_000));
      const received = escalations();
      if (received.length !== 1 || !received[0]!.verified) throw new Error(`expected one signed escalation, saw ${received.length}`);
      see(`exactly 1 escalation reached the webhook receiver, signature verified: "${received[0]!.body!.summary}"`);
      narrate(`           the webhook delivery (JSON, signed):\n${indent(JSON.stringify(received[0]!.body, null, 2), "           ")}`);
      const emailed = escalationEmails();
      if (emailed.length !== 1) throw new Error(`expected one escalation email for the crash group, saw ${emailed.length}`);
      narrate("           the same escalation by email:");
      show(emailed[0]!);
      see(`exactly 1 escalation email reached ${emailed[0]!.to} too (subject: ${emailed[0]!.subject})`);
    },
  ];

  /** On a failure: the supervisors' output and the cloud's view of the node, for a person to read. */
  const keepEvidence = async (): Promise<string> => {
    evidenceKept = true;
    for (const [i, supervisor] of supervisors.entries()) await writeFile(path.join(dir, `supervisor-${i + 1}.log`), supervisor.output());
    if (admin && world.nodeId) {
      const cloud = {
        telemetry: await admin.telemetry(world.nodeId).catch(String),
        resolutions: await admin.resolutions(world.nodeId).catch(String),
        commands: await admin.commands(world.nodeId).catch(String),
        releases: await admin.releases().catch(String),
      };
      await writeFile(path.join(dir, "cloud.json"), JSON.stringify(cloud, null, 2));
    }
    return dir;
  };

  const steps: StepReport[] = STEPS.map((title, i) => ({ n: i + 1, title, seen: [], seconds: 0, status: "not_reached" }));
  for (const [i, body] of bodies.slice(0, through).entries()) {
    const step = steps[i]!;
    const stepStarted = performance.now();
    narrate(`\n${step.n}. ${step.title}`);
    try {
      await body((line) => {
        step.seen.push(line);
        say(`   ${line}`);
      });
      step.status = "ok";
    } catch (error) {
      step.status = "failed";
      step.error = messageOf(error);
      say(`   FAILED: ${step.error}`);
      say(`   the agent's output and what the cloud holds are in ${await keepEvidence()}`);
    }
    step.seconds = (performance.now() - stepStarted) / 1000;
    if (step.status === "failed") break;
  }

  return {
    ok: steps.slice(0, through).every((s) => s.status === "ok"),
    steps,
    timeToRemediationS: measured.remediation?.totalS ?? null,
    remediation: measured.remediation,
    healthWindowS: settings.verifyHealthySeconds,
    world,
    dir,
    stop,
  };
}

function indent(text: string, by: string): string {
  return text
    .split("\n")
    .map((line) => by + line)
    .join("\n");
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once("error", () => resolve(false));
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(true)));
  });
}
