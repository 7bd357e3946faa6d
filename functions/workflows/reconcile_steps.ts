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
import { NonRetriableError, RetryAfterError } from "inngest";
import { ClerkApiError, type ClerkBackendApi, ClerkRateLimitError } from "../clerk/backend_api.ts";
import { DatabaseError } from "../database/rpc.ts";
import { errorFields, type Logger } from "../util/log.ts";
import type { ReconcileStore } from "../users/reconcile_store.ts";
import { toUserRow, type UserRow } from "../users/user_row.ts";
import { databaseFailure } from "./errors.ts";

/** What every step of one run works with. */
export interface ReconcileContext {
  readonly clerk: ClerkBackendApi;
  readonly store: ReconcileStore;
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

/** Where listing goes on after a step; `next` is `null` once Clerk has no more. */
export interface SyncProgress {
  readonly listed: number;
  readonly next: number | null;
}

/** Page writes in flight at once within a step. */
const WRITES_IN_FLIGHT = 3;

/**
 * Lists up to `pagesPerStep` pages from `offset`, oldest first, and applies
 * each with one database call. The next page is requested while earlier
 * ones are written, and two pages are written at once (they hold
 * different users, so their order does not matter).
 */
export async function syncUsersFrom(ctx: ReconcileContext, offset: number): Promise<SyncProgress> {
  const started = performance.now();
  const list = (at: number) => {
    const page = ctx.clerk.listUsers({ limit: ctx.pageSize, offset: at, orderBy: "+created_at" });
    page.catch(() => {}); // awaited below, or abandoned when the step fails
    return page;
  };
  const writes: Promise<void>[] = [];
  let writeError: { error: unknown } | undefined;
  const write = (at: number, rows: UserRow[]) => {
    writes.push(
      ctx.store.applyPage(ctx.runId, at, rows, ctx.dryRun).then(
        () => {},
        (error) => void (writeError ??= { error }),
      ),
    );
  };

  let at = offset;
  let pending = list(at);
  let next: number | null = null;
  for (let page = 0; page < ctx.pagesPerStep; page++) {
    let users;
    try {
      users = await pending;
    } catch (error) {
      if (page === 0 || !transient(error)) {
        await Promise.all(writes);
        throw error;
      }
      ctx.log.warn("Reconcile listing paused", { run_id: ctx.runId, offset: at, ...why(error) });
      next = at;
      break;
    }
    const full = users.length === ctx.pageSize;
    if (full && page + 1 < ctx.pagesPerStep) pending = list(at + ctx.pageSize);
    if (users.length) write(at, users.map(toUserRow));
    at += users.length;
    next = full ? at : null;
    while (writes.length >= WRITES_IN_FLIGHT) await writes.shift();
    if (writeError || !full) break;
  }
  await Promise.all(writes);
  if (writeError) throw writeError.error;
  ctx.log.info("Reconcile users applied", {
    run_id: ctx.runId,
    offset,
    listed: at - offset,
    duration_ms: Math.round(performance.now() - started),
  });
  return { listed: at - offset, next };
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

/** Lookups in flight at once; the request budget still paces them. */
const LOOKUPS_IN_FLIGHT = 5;

/** `getUser` for each id, a few at a time, in the order of `ids`. */
async function lookUp(clerk: ClerkBackendApi, ids: readonly string[]) {
  const answers: PromiseSettledResult<Awaited<ReturnType<ClerkBackendApi["getUser"]>>>[] = [];
  let next = 0;
  const worker = async () => {
    while (next < ids.length) {
      const i = next++;
      answers[i] = await clerk.getUser(ids[i]).then(
        (value) => ({ status: "fulfilled", value }) as const,
        (reason) => ({ status: "rejected", reason }) as const,
      );
    }
  };
  await Promise.all(Array.from({ length: Math.min(LOOKUPS_IN_FLIGHT, ids.length) }, worker));
  return answers;
}

/** Whether a retry may cure `error` (a 429, a 5xx, a network error). */
export function transient(error: unknown): boolean {
  return error instanceof ClerkApiError && !error.permanent;
}

/** Log fields for a failure: its status, and its message with addresses masked. */
export function why(error: unknown) {
  return {
    status: error instanceof ClerkApiError ? error.status : undefined,
    ...errorFields(error),
  };
}

/**
 * The retry decision for a failed step: a 429 waits for Clerk's
 * `Retry-After` (RetryAfterError); a refused key, another permanent refusal
 * or a permanent database error is NonRetriableError; the rest (5xx,
 * network, a database that does not answer) is thrown plainly, so that
 * Inngest retries.
 */
export function stepFailure(action: string, error: unknown): Error {
  if (error instanceof NonRetriableError) return error;
  if (error instanceof DatabaseError) return databaseFailure(action, error);
  const detail = error instanceof Error ? error.message : String(error);
  if (error instanceof ClerkRateLimitError) {
    return new RetryAfterError(`${action}: ${detail}`, error.retryAfterSeconds * 1000, {
      cause: error,
    });
  }
  if (error instanceof ClerkApiError && error.permanent) {
    return new NonRetriableError(`${action}: ${detail}`, { cause: error });
  }
  return new Error(`${action}: ${detail}`, { cause: error });
}
