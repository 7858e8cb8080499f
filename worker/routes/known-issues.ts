/**
 * Known issues (ADMIN_TOKEN): list, create, update, disable, and test a
 * pattern against the stored crash groups before anyone enables it.
 * Patterns are checked when written: one that doesn't compile, or that the
 * linear-time engine can't run, is refused with 400 and the reason.
 */
import { Hono } from "hono";
import { z } from "zod";
import { VersionSchema } from "../../protocol/telemetry.ts";
import { requireAdmin } from "../auth.ts";
import { database } from "../db/client.ts";
import { fleetDatabase } from "../db/shards.ts";
import {
  findKnownIssue,
  insertKnownIssue,
  type KnownIssue,
  listKnownIssues,
  recentCrashGroups,
  updateKnownIssue,
} from "../db/known-issues.ts";
import type { AppEnv } from "../env.ts";
import { ApiError } from "../http/errors.ts";
import { readJsonBody } from "../http/json-body.ts";
import { readParams } from "../http/query.ts";
import type { Operation } from "../openapi/operation.ts";
import { checkPattern, compilePattern } from "../triage/pattern.ts";

const BODY_MAX_BYTES = 16 * 1024;
/** How many crash groups a pattern test looks at (the most recent). */
const TEST_GROUP_LIMIT = 1000;

const Fields = z.object({
  pattern: z.string().min(1).max(500),
  description: z.string().max(1000).nullable().optional(),
  fix_type: z.enum(["update", "config_change", "manual", "self_healing"]),
  fix_version: VersionSchema.nullable().optional(),
  fix_instructions: z.record(z.string().max(64), z.json()).nullable().optional(),
  auto_resolve: z.boolean().optional(),
  enabled: z.boolean().optional(),
});
type FieldsInput = z.output<typeof Fields>;

const Params = z.object({ id: z.uuid() });

function checked(
  fields: Partial<FieldsInput>,
  merged: { pattern: string; fix_type: string | null; fix_version?: string | null; fix_instructions?: unknown },
): void {
  const issues: { path: string; message: string }[] = [];
  if (fields.pattern !== undefined) {
    const verdict = checkPattern(fields.pattern);
    if (!verdict.ok) issues.push({ path: "pattern", message: verdict.reason });
  }
  if (merged.fix_type === "update" && !merged.fix_version)
    issues.push({ path: "fix_version", message: "an update fix needs the version that contains it" });
  if (merged.fix_type === "config_change" && !merged.fix_instructions) {
    issues.push({ path: "fix_instructions", message: "a config_change fix needs the instructions to send" });
  }
  if (issues.length > 0) {
    throw new ApiError(400, "invalid_body", `The request body is not valid: ${issues[0]!.path}: ${issues[0]!.message}.`, { issues });
  }
}

function toColumns(fields: Partial<FieldsInput>) {
  return {
    ...(fields.pattern !== undefined && { pattern: fields.pattern }),
    ...(fields.description !== undefined && { description: fields.description }),
    ...(fields.fix_type !== undefined && { fixType: fields.fix_type }),
    ...(fields.fix_version !== undefined && { fixVersion: fields.fix_version }),
    ...(fields.fix_instructions !== undefined && {
      fixInstructions: fields.fix_instructions === null ? null : JSON.stringify(fields.fix_instructions),
    }),
    ...(fields.auto_resolve !== undefined && { autoResolve: fields.auto_resolve }),
    ...(fields.enabled !== undefined && { enabled: fields.enabled }),
  };
}

function view(issue: KnownIssue) {
  return {
    id: issue.id,
    pattern: issue.pattern,
    description: issue.description,
    fix_type: issue.fixType,
    fix_version: issue.fixVersion,
    fix_instructions: issue.fixInstructions === null ? null : (JSON.parse(issue.fixInstructions) as unknown),
    auto_resolve: issue.autoResolve,
    enabled: issue.enabled,
    hit_count: issue.hitCount,
    last_hit_at: issue.lastHitAt?.toISOString() ?? null,
    created_at: issue.createdAt.toISOString(),
    updated_at: issue.updatedAt?.toISOString() ?? null,
  };
}

async function existing(c: { env: AppEnv["Bindings"] }, id: string): Promise<KnownIssue> {
  const issue = await findKnownIssue(database(fleetDatabase(c.env)), id);
  if (!issue) throw new ApiError(404, "known_issue_not_found", `No known issue ${id}.`);
  return issue;
}

export const knownIssueRoutes = new Hono<AppEnv>()
  .use(requireAdmin)
  .get("/", async (c) => c.json({ items: (await listKnownIssues(database(fleetDatabase(c.env)))).map(view) }))
  .post("/", async (c) => {
    const body = await readJsonBody(c, Fields, BODY_MAX_BYTES);
    checked(body, body);
    const issue = await insertKnownIssue(database(fleetDatabase(c.env)), {
      id: crypto.randomUUID(),
      enabled: true,
      autoResolve: false,
      ...toColumns(body),
      pattern: body.pattern,
    });
    return c.json(view(issue), 201);
  })
  .patch("/:id", async (c) => {
    const { id } = readParams(c, Params);
    const body = await readJsonBody(c, Fields.partial(), BODY_MAX_BYTES);
    const current = await existing(c, id);
    checked(body, {
      pattern: body.pattern ?? current.pattern,
      fix_type: body.fix_type ?? current.fixType,
      fix_version: body.fix_version !== undefined ? body.fix_version : current.fixVersion,
      fix_instructions: body.fix_instructions !== undefined ? body.fix_instructions : current.fixInstructions,
    });
    return c.json(view((await updateKnownIssue(database(fleetDatabase(c.env)), id, toColumns(body)))!));
  })
  .post("/:id/disable", async (c) => {
    const { id } = readParams(c, Params);
    await existing(c, id);
    return c.json(view((await updateKnownIssue(database(fleetDatabase(c.env)), id, { enabled: false }))!));
  })
  .post("/:id/test", async (c) => {
    const { id } = readParams(c, Params);
    const issue = await existing(c, id);
    const match = compilePattern(issue.pattern);
    const groups = await recentCrashGroups(database(fleetDatabase(c.env)), TEST_GROUP_LIMIT);
    const matched = groups.filter((g) => match((JSON.parse(g.latestSample) as string[]).join("\n")));
    return c.json({
      known_issue_id: issue.id,
      pattern: issue.pattern,
      enabled: issue.enabled,
      checked_groups: groups.length,
      matches: matched.map((g) => ({
        crash_group_id: g.id,
        title: g.title,
        report_count: g.reportCount,
        current_known_issue_id: g.knownIssueId,
      })),
    });
  });

const ISSUE =
  "The known issue: {id, pattern, description, fix_type, fix_version, fix_instructions, auto_resolve, enabled, hit_count, last_hit_at, created_at, updated_at}";
const NOT_FOUND = { 404: "No such known issue (known_issue_not_found)." };

export const knownIssueApi: Operation[] = [
  {
    method: "get",
    path: "/api/admin/known-issues",
    summary: "Every known issue",
    auth: "admin",
    responses: { 200: { description: `{items: [${ISSUE}]}` } },
  },
  {
    method: "post",
    path: "/api/admin/known-issues",
    summary: "Create a known issue (its pattern is checked first)",
    auth: "admin",
    body: Fields,
    responses: { 201: { description: ISSUE } },
  },
  {
    method: "patch",
    path: "/api/admin/known-issues/{id}",
    summary: "Change some fields of a known issue",
    auth: "admin",
    params: Params,
    body: Fields.partial(),
    responses: { 200: { description: ISSUE } },
    errors: NOT_FOUND,
  },
  {
    method: "post",
    path: "/api/admin/known-issues/{id}/disable",
    summary: "Stop matching crashes against a known issue",
    auth: "admin",
    params: Params,
    responses: { 200: { description: ISSUE } },
    errors: NOT_FOUND,
  },
  {
    method: "post",
    path: "/api/admin/known-issues/{id}/test",
    summary: "Which recent crash groups the pattern matches (nothing is changed)",
    auth: "admin",
    params: Params,
    responses: {
      200: {
        description:
          "{known_issue_id, pattern, enabled, checked_groups, matches: [{crash_group_id, title, report_count, current_known_issue_id}]}",
      },
    },
    errors: NOT_FOUND,
  },
];
