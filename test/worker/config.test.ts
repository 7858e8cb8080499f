/**
 * The [vars] parsers: what a good value gives, and what a bad one does — it
 * falls back to the default, so a typo in wrangler.toml never fails requests.
 */
import { describe, expect, it } from "vitest";
import {
  count,
  emailSettings,
  enrollmentTtlSeconds,
  heartbeatLogOneIn,
  historySlotMs,
  liveTiming,
  percent,
  positiveSeconds,
  seconds,
  triageSettings,
} from "../../worker/config.ts";
import type { Env } from "../../worker/env.ts";

const NOT_NUMBERS = ["abc", "30s", "NaN", "Infinity", "-Infinity"];

function envWith(vars: Partial<Record<keyof Env, string>>): Env {
  // Only the vars are read; the bindings are not needed to parse them.
  return vars as unknown as Env;
}

describe("seconds()", () => {
  it("reads whole and fractional seconds, and zero", () => {
    expect(seconds("3600", 1)).toBe(3600);
    expect(seconds("0.5", 1)).toBe(0.5);
    expect(seconds("0", 1)).toBe(0);
  });

  it.each([undefined, "", "-1", ...NOT_NUMBERS])("falls back to the default for %j", (value) => {
    expect(seconds(value, 60)).toBe(60);
  });
});

describe("positiveSeconds()", () => {
  it("reads a positive number of seconds", () => {
    expect(positiveSeconds("30", 1)).toBe(30);
    expect(positiveSeconds("0.25", 1)).toBe(0.25);
  });

  it.each([undefined, "", "0", "-5", ...NOT_NUMBERS])("falls back to the default for %j", (value) => {
    expect(positiveSeconds(value, 30)).toBe(30);
  });
});

describe("count()", () => {
  it("reads a count", () => {
    expect(count("7", 2)).toBe(7);
  });

  it("raises zero to one: a threshold of zero would trip on nothing", () => {
    expect(count("0", 2)).toBe(1);
  });

  it.each([undefined, "", "-3", ...NOT_NUMBERS])("falls back to the default for %j", (value) => {
    expect(count(value, 2)).toBe(2);
  });
});

describe("percent()", () => {
  it("reads a percentage, including 0 and more than 100", () => {
    expect(percent("5", 1)).toBe(5);
    expect(percent("0", 1)).toBe(0);
    expect(percent("150", 1)).toBe(150);
  });

  it.each([undefined, "", "-1", "5%", ...NOT_NUMBERS])("falls back to the default for %j", (value) => {
    expect(percent(value, 5)).toBe(5);
  });
});

describe("the configuration the Worker reads", () => {
  it("gives the defaults when no var is set", () => {
    expect(enrollmentTtlSeconds(envWith({}))).toBe(7 * 24 * 3600);
    expect(liveTiming(envWith({}))).toEqual({
      heartbeatIntervalMs: 30_000,
      fullHeartbeatIntervalMs: 600_000,
      silenceCheckMs: 1_200_000,
      offlineGraceMs: 95_000,
      flapWindowMs: 600_000,
      rollupMs: 3_600_000,
    });
    expect(triageSettings(envWith({}))).toEqual({
      escalationPeriodMs: 3_600_000,
      webhookUrl: null,
      webhookSecret: null,
      healthyWindowMs: 60_000,
      rollbackHaltCount: 2,
      rollbackHaltPercent: 5,
    });
  });

  it("samples the chart history every 5 minutes unless HISTORY_SLOT_SECONDS says otherwise (a bad value is the default)", () => {
    expect(historySlotMs(envWith({}))).toBe(300_000);
    expect(historySlotMs(envWith({ HISTORY_SLOT_SECONDS: "3" }))).toBe(3_000);
    for (const value of ["", "0", "-3", "often"]) expect(historySlotMs(envWith({ HISTORY_SLOT_SECONDS: value }))).toBe(300_000);
  });

  it("derives the offline grace from the heartbeat interval unless it is set", () => {
    expect(liveTiming(envWith({ HEARTBEAT_INTERVAL_SECONDS: "1" })).offlineGraceMs).toBe(8_000);
    expect(liveTiming(envWith({ HEARTBEAT_INTERVAL_SECONDS: "1", OFFLINE_GRACE_SECONDS: "3" })).offlineGraceMs).toBe(3_000);
  });

  it("reads the full heartbeat interval and the open-socket silence check; 0 checks at the grace's end, a bad value is the default", () => {
    const timing = liveTiming(envWith({ FULL_HEARTBEAT_INTERVAL_SECONDS: "120", SILENCE_CHECK_SECONDS: "0" }));
    expect(timing.fullHeartbeatIntervalMs).toBe(120_000);
    expect(timing.silenceCheckMs).toBe(0);
    for (const value of ["", "0", "-5", "hourly"])
      expect(liveTiming(envWith({ FULL_HEARTBEAT_INTERVAL_SECONDS: value })).fullHeartbeatIntervalMs).toBe(600_000);
    for (const value of ["", "-5", "hourly"]) expect(liveTiming(envWith({ SILENCE_CHECK_SECONDS: value })).silenceCheckMs).toBe(1_200_000);
  });

  it("logs one full heartbeat in 6 (about a line per node-hour) unless HEARTBEAT_LOG_ONE_IN says otherwise; 0 logs none", () => {
    expect(heartbeatLogOneIn(envWith({}))).toBe(6);
    expect(heartbeatLogOneIn(envWith({ HEARTBEAT_LOG_ONE_IN: "0" }))).toBe(0);
    expect(heartbeatLogOneIn(envWith({ HEARTBEAT_LOG_ONE_IN: "many" }))).toBe(6);
  });

  it("gives the default enrollment lifetime for a bad ENROLLMENT_TTL_SECONDS, a negative one included", () => {
    for (const value of ["", "0", "-60", "week"])
      expect(enrollmentTtlSeconds(envWith({ ENROLLMENT_TTL_SECONDS: value }))).toBe(7 * 24 * 3600);
  });

  it("treats an empty ESCALATION_WEBHOOK_URL as no webhook", () => {
    expect(triageSettings(envWith({ ESCALATION_WEBHOOK_URL: "" })).webhookUrl).toBeNull();
  });
});

describe("emailSettings()", () => {
  it("reads the sender, every escalation recipient and the public origin", () => {
    const settings = emailSettings(
      envWith({
        EMAIL_FROM: " it-support@buhdi.test ",
        ESCALATION_EMAIL_TO: "kriz@buhdi.test,  on-call@buhdi.test ,kriz@buhdi.test",
        PUBLIC_URL: "https://fleet.example.com/anything",
      }),
    );
    expect(settings).toEqual({
      from: "it-support@buhdi.test",
      reason: null,
      escalationTo: ["kriz@buhdi.test", "on-call@buhdi.test"],
      invalidEscalationTo: [],
      publicUrl: "https://fleet.example.com",
    });
  });

  it.each([
    [undefined, "EMAIL_FROM is not set"],
    ["", "EMAIL_FROM is not set"],
    ["Buhdi <it-support@buhdi.test>", "EMAIL_FROM is not a valid address"],
    ["it-support@buhdi.test\r\nBcc: evil@example.com", "EMAIL_FROM is not a valid address"],
  ])("sends nothing for EMAIL_FROM %j, and says why", (from, why) => {
    const settings = emailSettings(envWith({ EMAIL_FROM: from }));
    expect(settings.from).toBeNull();
    expect(settings.reason).toContain(why);
  });

  it("leaves out recipients that are not addresses, naming them, and ignores a PUBLIC_URL that is not http(s)", () => {
    const settings = emailSettings(
      envWith({
        EMAIL_FROM: "a@buhdi.test",
        ESCALATION_EMAIL_TO: "kriz@buhdi.test, not an address, x@y\nBcc: z@w.com",
        PUBLIC_URL: "javascript:alert(1)",
      }),
    );
    expect(settings.escalationTo).toEqual(["kriz@buhdi.test"]);
    expect(settings.invalidEscalationTo).toEqual(["not an address", "x@y\nBcc: z@w.com"]);
    expect(settings.publicUrl).toBeNull();
  });
});
