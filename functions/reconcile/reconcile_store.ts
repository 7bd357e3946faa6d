/**
 * The bookkeeping of `reconcile-users-with-clerk`, through the SQL functions
 * of the `clerk_sync_runs` migration. Each call is one round trip, whatever
 * the number of users it carries.
 */
import type { UserRow } from "../users/user_row.ts";

/** What started a run. */
export type SyncTrigger = "cron" | "event";

/** What one page did (counting only users the run had not seen yet). */
export interface PageCounts {
  readonly listed: number;
  readonly inserted: number;
  readonly updated: number;
  readonly unchanged: number;
}

/** A finished run, as `public.clerk_sync_runs` records it. */
export interface RunSummary extends PageCounts {
  readonly status: "succeeded" | "failed";
  readonly dryRun: boolean;
  readonly tombstoned: number;
}

/** The reconcile run's view of the database. */
export interface ReconcileStore {
  /** Records the start of a run (idempotent per Inngest run id); returns its id. */
  startRun(inngestRunId: string, trigger: SyncTrigger, dryRun: boolean): Promise<string>;
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
  /** Records the end of the run and returns its counts. */
  finishRun(runId: string, status: "succeeded" | "failed", error?: string): Promise<RunSummary>;
}
