/**
 * The work of the steps of `reconcile-users-with-clerk`, apart from Inngest:
 * each function does what one step does and returns a small result.
 *
 * A Clerk failure that a retry may cure (a 429, a 5xx, a network error)
 * after some work was done ends the step early with that progress, instead
 * of failing it: the next step starts where this one stopped (and, if Clerk
 * still refuses, fails at its first request, to be retried after
 * `Retry-After`). So a retry never repeats requests whose work is kept.
 *
 * Loaded when a reconcile step first runs, not on the webhook path.
 */
import type { ClerkBackendApi } from "../clerk/backend_api.ts";
import type { Logger } from "../util/log.ts";
import type { UsersReconcileStore } from "./reconcile_store.ts";
import { toUserRow, type UserRow } from "./user_row.ts";
import {
  applyPagesFrom,
  inFlight,
  type SyncProgress,
  transient,
  why,
} from "../clerk/paged_sync.ts";

export type { SyncProgress } from "../clerk/paged_sync.ts";

/** What every step of one run works with. */
export interface ReconcileContext {
  readonly clerk: ClerkBackendApi;
  readonly store: UsersReconcileStore;
  readonly log: Logger;
  /** The run's id in `public.clerk_sync_runs`. */
  readonly runId: string;
  readonly dryRun: boolean;
  /** Users per `GET /v1/users` (at most 500). */
  readonly pageSize: number;
  /** Pages per step. */
  readonly pagesPerStep: number;
  /** Absent users confirmed per step. */
  readonly confirmBatchSize: number;
}

/**
 * Lists up to `pagesPerStep` pages from `offset`, oldest first, and applies
 * each with one database call. The next page is requested while earlier
 * ones are written, and two pages are written at once (they hold
 * different users, so their order does not matter).
 */
export function syncUsersFrom(ctx: ReconcileContext, offset: number): Promise<SyncProgress> {
  return applyPagesFrom<UserRow>({
    offset,
    pageSize: ctx.pageSize,
    pagesPerStep: ctx.pagesPerStep,
    log: ctx.log,
    logFields: { run_id: ctx.runId },
    applied: "Reconcile users applied",
    list: async (at) => {
      const users = await ctx.clerk.listUsers({
        limit: ctx.pageSize,
        offset: at,
        orderBy: "+created_at",
      });
      return { rows: users.map(toUserRow), more: users.length === ctx.pageSize };
    },
    write: (at, rows) => ctx.store.applyPage(ctx.runId, at, [...rows], ctx.dryRun),
  });
}

/**
 * Takes up to `confirmBatchSize` of the users the run did not see in
 * Clerk's list (see `collectAbsent`) and asks Clerk for each: a 404 erases
 * the user (as `user.deleted` would); a user Clerk still has is applied like
 * a listed one. Returns how many were resolved; 0 when none is left.
 */
export async function confirmAbsentUsers(ctx: ReconcileContext): Promise<number> {
  const ids = await ctx.store.absentUsers(ctx.runId, ctx.confirmBatchSize);
  const answers = await lookUp(ctx.clerk, ids);
  const found: UserRow[] = [];
  const gone: string[] = [];
  const failures: unknown[] = [];
  answers.forEach((answer, i) => {
    if (answer.status === "rejected") failures.push(answer.reason);
    else if (answer.value) found.push(toUserRow(answer.value));
    else gone.push(ids[i]);
  });
  const permanent = failures.find((error) => !transient(error));
  if (permanent !== undefined) throw permanent;
  if (failures.length && found.length + gone.length === 0) throw failures[0];
  if (failures.length) {
    ctx.log.warn("Reconcile confirmation paused", { run_id: ctx.runId, ...why(failures[0]) });
  }
  if (found.length + gone.length === 0) return 0;
  const counts = await ctx.store.resolveAbsent(ctx.runId, found, gone, ctx.dryRun);
  ctx.log.info("Reconcile absent users confirmed", {
    run_id: ctx.runId,
    checked: found.length + gone.length,
    still_in_clerk: found.length,
    tombstoned: counts.tombstoned,
  });
  return found.length + gone.length;
}

/** `getUser` for each id, a few at a time, in the order of `ids`. */
function lookUp(clerk: ClerkBackendApi, ids: readonly string[]) {
  return inFlight(ids, (id) => clerk.getUser(id));
}
