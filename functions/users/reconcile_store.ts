/**
 * The users' part of `reconcile-users-with-clerk` in the database, through
 * the SQL functions of the `clerk_sync_runs` migration. Each call is one
 * round trip, whatever the number of users it carries.
 */
import type { PageCounts } from "../reconcile/reconcile_part.ts";
import type { UserRow } from "./user_row.ts";

/** The users' part of a reconcile run, in the database. */
export interface UsersReconcileStore {
  /** Records the page listed at `offset` as seen and upserts it (not in a dry run). */
  applyPage(
    runId: string,
    offset: number,
    rows: readonly UserRow[],
    dryRun: boolean,
  ): Promise<PageCounts>;
  /** Records the users the run did not see in Clerk; returns how many. */
  collectAbsent(runId: string): Promise<number>;
  /** Up to `limit` of them still to confirm with Clerk. */
  absentUsers(runId: string, limit: number): Promise<string[]>;
  /**
   * Applies Clerk's answers: `found` users are upserted, `gone` ones erased
   * (not in a dry run). Both leave the list of users to confirm.
   */
  resolveAbsent(
    runId: string,
    found: readonly UserRow[],
    gone: readonly string[],
    dryRun: boolean,
  ): Promise<PageCounts & { readonly tombstoned: number }>;
}
