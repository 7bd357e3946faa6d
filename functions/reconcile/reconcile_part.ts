/**
 * What another feature plugs into `reconcile-users-with-clerk`: a part
 * whose steps run after the users' and before `finish-run`, in the same
 * run, with the same Clerk client and request budget. The organizations
 * feature fills one (`../organizations/reconcile_organizations.ts`).
 */
import type { Logger } from "../util/log.ts";

/** A step of the run, with its failure mapped to a retry decision (see reconcile_users.ts). */
export type GuardedStep = <T>(id: string, action: string, work: () => Promise<T>) => Promise<T>;

/** The run a part's steps belong to, and the sizes of their pages and batches. */
export interface ReconcileRun {
  /** The `public.clerk_sync_runs` id. */
  readonly runId: string;
  /** Count what would change without writing. */
  readonly dryRun: boolean;
  readonly log: Logger;
  readonly pageSize: number;
  readonly pagesPerStep: number;
  readonly confirmBatchSize: number;
}

/** What a page write counted, as the reconcile's SQL functions answer. */
export interface PageCounts {
  readonly listed: number;
  readonly inserted: number;
  readonly updated: number;
  readonly unchanged: number;
}

/** A part of the reconcile. */
export interface ReconcilePart {
  /** What it repairs, for logs: `organizations`. */
  readonly name: string;
  /** Runs the part's steps, each through `step`; step ids must be unique in the run. */
  run(step: GuardedStep, run: ReconcileRun): Promise<void>;
}
