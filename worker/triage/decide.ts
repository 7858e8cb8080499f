/**
 * The auto-triage flow as one pure function: given the matched known
 * issue (if any), the node's version and the crash group's history, what
 * happens. Everything with side effects (D1, the node's Durable Object, the
 * webhook) acts on the Decision elsewhere.
 */
import { isOlder } from "../../protocol/version.ts";
import type { CRASH_GROUP_STATES, EscalationReason, RESOLUTION_ACTIONS, RESOLUTION_STATES } from "../db/schema.ts";

export type KnownIssueMatch = {
  id: string;
  fixType: "update" | "config_change" | "manual" | "self_healing" | null;
  fixVersion: string | null;
  /** JSON text (config_change: what to change). */
  fixInstructions: string | null;
  autoResolve: boolean;
};

export type GroupHistory = {
  /** null for a group this report creates. */
  state: (typeof CRASH_GROUP_STATES)[number] | null;
  lastEscalatedAt: number | null;
};

export type Decision = {
  action: (typeof RESOLUTION_ACTIONS)[number];
  resolutionState: (typeof RESOLUTION_STATES)[number];
  groupState: (typeof CRASH_GROUP_STATES)[number];
  fixVersion: string | null;
  /** A command for the node's Durable Object (an update carries the signed release as its payload). */
  command: { type: "CONFIG_CHANGE" | "SOFTWARE_UPDATE"; payload: Record<string, unknown> } | null;
  /** Ask the node's Durable Object to tell us when the node runs healthy (on fixVersion, if set). */
  verify: boolean;
  ticket: boolean;
  /** Why to escalate, if this report is worth it and the group's escalation period allows. */
  escalate: EscalationReason | null;
};

/** A published release at least as new as the fix, whose rollout includes this node. */
export type AvailableRelease = { version: string; signed: Record<string, unknown> };

export function decide(
  match: KnownIssueMatch | null,
  nodeVersion: string | null,
  group: GroupHistory,
  now: number,
  escalationPeriodMs: number,
  release: AvailableRelease | null = null,
): Decision {
  const due = group.lastEscalatedAt === null || now - group.lastEscalatedAt >= escalationPeriodMs;
  const base = { fixVersion: null, command: null, verify: false, ticket: false, escalate: null } as const;

  if (!match || match.fixType === "manual" || (match.fixType === "update" && !match.fixVersion)) {
    // Unknown (or a known issue only a person can fix): one ticket per group.
    return {
      ...base,
      action: "ticket",
      resolutionState: "open",
      groupState: "ticketed",
      ticket: true,
      escalate: !match && due ? "unknown_crash" : null,
    };
  }
  switch (match.fixType) {
    case "self_healing":
      return { ...base, action: "self_healing", resolutionState: "recorded", groupState: "recorded" };
    case "config_change":
      return {
        ...base,
        action: "config_change",
        resolutionState: "pending",
        groupState: "fixing",
        command: { type: "CONFIG_CHANGE", payload: instructions(match.fixInstructions) },
        verify: true,
      };
    case "update": {
      const fixVersion = match.fixVersion!;
      if (nodeVersion !== null && !isOlder(nodeVersion, fixVersion)) {
        // Crashing on the fix (or later): the fix did not hold. Never push it again.
        return {
          ...base,
          action: "regression",
          resolutionState: "regressed",
          groupState: "regressed",
          fixVersion,
          escalate: due ? "regression" : null,
        };
      }
      if (release) {
        return {
          ...base,
          action: "software_update",
          resolutionState: "pending",
          groupState: "fixing",
          fixVersion,
          command: { type: "SOFTWARE_UPDATE", payload: release.signed },
          verify: true,
        };
      }
      // No release carries the fix yet: wait (publishing one carries this out, releases/carry-out.ts);
      // the fix is still verified if the node reaches fixVersion some other way.
      const firstTime = group.state !== "waiting_for_release";
      return {
        ...base,
        action: "waiting_for_release",
        resolutionState: "waiting_for_release",
        groupState: "waiting_for_release",
        fixVersion,
        verify: true,
        escalate: firstTime && due ? "waiting_for_release" : null,
      };
    }
  }
  return { ...base, action: "ticket", resolutionState: "open", groupState: "ticketed", ticket: true };
}

function instructions(json: string | null): Record<string, unknown> {
  if (!json) return {};
  const value: unknown = JSON.parse(json);
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : { value };
}
