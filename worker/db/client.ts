/**
 * One Drizzle handle per D1 binding (no connection to open). Building one walks the whole schema
 * (about 20 µs), so it is made once per binding object and isolate, not once per call: the ingest
 * path used to build one per request.
 */
import { drizzle } from "drizzle-orm/d1";
import * as schema from "./schema.ts";

const handles = new WeakMap<D1Database, ReturnType<typeof open>>();

function open(d1: D1Database) {
  return drizzle(d1, { schema });
}

export function database(d1: D1Database) {
  let db = handles.get(d1);
  if (!db) {
    db = open(d1);
    handles.set(d1, db);
  }
  return db;
}

export type Database = ReturnType<typeof database>;
