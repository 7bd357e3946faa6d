/**
 * The PostgREST the tests point supabase-js at: the real one of a running
 * `supabase start` stack when `TEST_SUPABASE_STACK=1` (with `SUPABASE_URL`
 * and `SUPABASE_SERVICE_ROLE_KEY` set), otherwise the test double.
 */
import type postgres from "postgres";
import { connect } from "./database.ts";
import { TEST_SERVICE_KEY } from "./env.ts";
import { type PostgrestDouble, startPostgrestDouble } from "./postgrest_double.ts";

/** Where supabase-js should go, and how to stop it. */
export interface Postgrest {
  readonly url: string;
  readonly serviceKey: string;
  /** The double, when one runs: tests that inject faults need it. */
  readonly double?: PostgrestDouble;
  close(): Promise<void>;
}

/** Starts the double over `sql`, or returns the real stack's PostgREST. */
export function startPostgrest(sql: postgres.Sql): Postgrest {
  if (Deno.env.get("TEST_SUPABASE_STACK") === "1") {
    const url = Deno.env.get("SUPABASE_URL");
    const serviceKey = Deno.env.get("SUPABASE_SERVICE_ROLE_KEY");
    if (!url || !serviceKey) {
      throw new Error(
        "Cannot use the Supabase stack: set SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY",
      );
    }
    return { url, serviceKey, close: () => Promise.resolve() };
  }
  const double = startPostgrestDouble({ sql, serviceKey: TEST_SERVICE_KEY, anonKey: "anon-key" });
  return { url: double.url, serviceKey: TEST_SERVICE_KEY, double, close: () => double.close() };
}

/**
 * Runs `fn` with a connection to the test database and a PostgREST in front
 * of it, and closes both afterwards.
 */
export async function withPostgrest(
  fn: (sql: postgres.Sql, postgrest: Postgrest) => Promise<void>,
): Promise<void> {
  const sql = await connect();
  const postgrest = startPostgrest(sql);
  try {
    await fn(sql, postgrest);
  } finally {
    await postgrest.close();
    await sql.end();
  }
}
