/**
 * Which D1 database holds what: the seam for sharding D1 by owner (docs/scale.md). Nothing else
 * in worker/ reads env.DB (test/worker/shards.test.ts checks), so adding shards changes this file
 * and the bindings, not the call sites.
 *
 * The rule, per table:
 *  - ownerDatabase: what one owner's nodes produce, reached with the owner known: node_telemetry
 *    and the nodes' status (the hourly rollup). Most of D1's rows and writes.
 *  - fleetDatabase, the plan's small directory: what is looked up before the owner is known
 *    (owners, sessions, sign_in_tokens, enrollment_codes, a node's id → its owner and key hash)
 *    and what is no one owner's: releases, node_known_issues, outgoing_emails and triage's
 *    tables (crash groups span owners, and one triage decision is one batch).
 *  - `nodes` is one table in both roles: found by id (a key to check, a node an admin names) in
 *    fleetDatabase; listed or updated for a known owner in ownerDatabase. A second shard splits
 *    it: the directory keeps id, owner and key hash.
 *  - Reads of owner data across owners (IT Support's lists, the cron jobs) use fleetDatabase and
 *    say "across owners": with shards they visit each one. So do the few queries that join an
 *    owner table with a fleet one (triage reads a report with its node and owner); those split then.
 *
 * Today there is one database and both return env.DB. A shard is configuration: a D1 binding per
 * shard, and ownerDatabase picks among them by a stable hash of the owner id (no lookup on the
 * hot paths: ingest, a node's status sync). Moving an owner later would need the shard in their
 * directory row instead.
 */
import type { Env } from "../env.ts";

/** The database that holds this owner's nodes' data (the owner is unused while there is one shard). */
export function ownerDatabase(env: Pick<Env, "DB">, _ownerId: string): D1Database {
  return env.DB;
}

/** The directory and the fleet-wide tables; also every read across owners while there is one shard. */
export function fleetDatabase(env: Pick<Env, "DB">): D1Database {
  return env.DB;
}
