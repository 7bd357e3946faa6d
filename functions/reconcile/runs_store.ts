/**
 * The bookkeeping of `reconcile-users-with-clerk` in `public.clerk_sync_runs`,
 * through the SQL functions of the `clerk_sync_runs` migration. The parts
 * record their counts on the run as they apply pages; `finishRun` sums them.
 */
import type { PageCounts } from "./reconcile_part.ts";

/** What started a run. */
export type SyncTrigger = "cron" | "event";

/** A finished run, as `public.clerk_sync_runs` records it. */
export interface RunSummary extends PageCounts {
  readonly status: "succeeded" | "failed";
  readonly dryRun: boolean;
  readonly tombstoned: number;
}

/** The runs table. */
export interface RunsStore {
  /** Records the start of a run (idempotent per Inngest run id); returns its id. */
  startRun(inngestRunId: string, trigger: SyncTrigger, dryRun: boolean): Promise<string>;
  /** Records the end of the run and returns its counts. */
  finishRun(runId: string, status: "succeeded" | "failed", error?: string): Promise<RunSummary>;
}
