/**
 * Calls SQL functions through supabase-js (PostgREST `rpc`), turning its
 * `{ data, error }` answers into values or typed errors.
 */
import type { SupabaseClient } from "@supabase/supabase-js";

/** Integrity violations that a concurrent writer causes, and a retry resolves. */
const RACED = ["23505", "23P01"];

/** A failed database call, with the PostgreSQL or PostgREST error code. */
export class DatabaseError extends Error {
  /** PostgreSQL SQLSTATE or PostgREST code, when the server gave one. */
  readonly code: string | undefined;

  constructor(message: string, code: string | undefined) {
    super(message);
    this.name = "DatabaseError";
    this.code = code;
  }

  /**
   * Whether repeating the same call can never succeed: PostgreSQL data
   * exceptions (class 22) and integrity violations (class 23), except a
   * unique or exclusion violation (23505, 23P01): a writer that raced
   * another for the same key (two writers of one membership pair, say)
   * finds the other's row on its next attempt, so it is retried rather
   * than dropped. Anything
   * else, such as a refused connection or a missing function during a
   * deploy, may pass on a later attempt.
   */
  get permanent(): boolean {
    return this.code !== undefined && /^(22|23)/.test(this.code) &&
      !RACED.includes(this.code);
  }
}

/** Calls `public.<fn>(args)` and returns its result, or throws DatabaseError. */
export async function callRpc<T>(
  client: SupabaseClient,
  fn: string,
  args: Record<string, unknown>,
): Promise<T> {
  let result;
  try {
    result = await client.rpc(fn, args);
  } catch (error) {
    throw new DatabaseError(
      `Cannot call ${fn}: ${error instanceof Error ? error.message : String(error)}`,
      undefined,
    );
  }
  if (result.error) {
    throw new DatabaseError(`Cannot call ${fn}: ${result.error.message}`, result.error.code);
  }
  return result.data as T;
}
