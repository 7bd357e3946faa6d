/**
 * Which of the migrations this code needs the database lacks, for `/health`:
 * each migration records its name in `public.clerk_events_migrations`, and
 * `clerk_events_applied_migrations()` returns those names to the service
 * role.
 */
import type { SupabaseClient } from "@supabase/supabase-js";
import { callRpc, DatabaseError } from "./rpc.ts";

/** The migration that adds `clerk_events_applied_migrations()`. */
export const SCHEMA_CHECK_MIGRATION = "20261202095000_health_schema";

/**
 * PostgREST's code for a function it does not know, and PostgreSQL's
 * (`undefined_function`), which a PostgREST in front of it may pass on.
 */
const FUNCTION_MISSING = new Set(["PGRST202", "42883"]);

/**
 * The names in `needed` (oldest first) that the database has not recorded,
 * oldest first; throws DatabaseError when the database does not answer.
 */
export async function missingMigrations(
  client: SupabaseClient,
  needed: readonly string[],
): Promise<string[]> {
  let applied: unknown;
  try {
    applied = await callRpc(client, "clerk_events_applied_migrations", {});
  } catch (error) {
    if (error instanceof DatabaseError && FUNCTION_MISSING.has(error.code ?? "")) {
      // The database is from before the function existed. Migrations are
      // applied in order, so it lacks that migration and every later one.
      const from = needed.indexOf(SCHEMA_CHECK_MIGRATION);
      return needed.slice(from < 0 ? 0 : from);
    }
    throw error;
  }
  if (!Array.isArray(applied)) {
    throw new DatabaseError(
      "Cannot read the applied migrations: clerk_events_applied_migrations returned no list",
      undefined,
    );
  }
  const recorded = new Set(applied);
  return needed.filter((name) => !recorded.has(name));
}
