/**
 * `reconcile-users-with-clerk`: makes the mirrored tables converge on
 * Clerk's truth. It backfills what existed before installation, repairs
 * rows a lost webhook left stale, and erases what was deleted while nobody
 * listened.
 *
 * 1. `start-run` records the run in `public.clerk_sync_runs`.
 * 2. Each {@link ReconcilePart} runs its steps in turn: the users first
 *    (`../users/reconcile_part.ts`), then organizations and memberships
 *    (`../organizations/reconcile_organizations.ts`). A part pages through
 *    Clerk's Backend API, applies each page with the webhook path's rules
 *    (newest `updated_at` wins, tombstones stay), then confirms with Clerk
 *    each row it did not list before it tombstones it.
 * 3. `finish-run` records the counts.
 *
 * It never sends email and never emits `clerk/…` events: backfilled users
 * are not new sign-ups. One run at a time: a trigger that arrives while a
 * run is going is skipped (`singleton`, mode `skip`).
 */
import { type Inngest, NonRetriableError } from "inngest";
import { lazy } from "../util/lazy.ts";
import { errorFields, type Logger } from "../util/log.ts";
import { reconcileRequested } from "./events.ts";
import type { GuardedStep, ReconcilePart, ReconcileRun } from "./reconcile_part.ts";
import type { RunsStore, SyncTrigger } from "./runs_store.ts";

// The failure mapping, and the Clerk client it knows, load when a step
// first fails: the webhook path never needs them (see the cold-start benchmark).
const failures = lazy(() => import("./reconcile_failures.ts"));

/** The function id, part of the contract. */
export const RECONCILE_FUNCTION_ID = "reconcile-users-with-clerk";

/** Users per `GET /v1/users` page: Clerk's maximum. */
export const PAGE_SIZE = 500;
/** Absent users confirmed with Clerk per step, one request each. */
export const CONFIRM_BATCH_SIZE = 25;
/**
 * Pages per step. Inngest replays every earlier step on each request, so
 * 200 one-page steps for 100,000 users spend more time replaying than
 * writing (measured: 8.7 of 22.7 s); and a run holds at most 1,000 steps.
 */
export const PAGES_PER_STEP = 10;
const RETRIES = 10;

/** Dependencies of the reconcile workflow. */
export interface ReconcileDeps {
  /**
   * Resolves once the Backend API client can be built; rejects, naming the
   * problem, while its settings are invalid (the run then fails at once).
   */
  readonly clerkReady: () => Promise<unknown>;
  readonly store: () => Promise<RunsStore>;
  readonly logger: Logger;
  /** What the run repairs, in order. */
  readonly parts: readonly ReconcilePart[];
  /** The schedule; `undefined` registers the event trigger only. */
  readonly cron?: string;
  readonly pageSize?: number;
  readonly pagesPerStep?: number;
  readonly confirmBatchSize?: number;
}

/** Creates `reconcile-users-with-clerk` on `client`. */
export function createReconcileFunction(client: Inngest, deps: ReconcileDeps) {
  const pageSize = deps.pageSize ?? PAGE_SIZE;
  const pagesPerStep = deps.pagesPerStep ?? PAGES_PER_STEP;
  const confirmBatchSize = deps.confirmBatchSize ?? CONFIRM_BATCH_SIZE;
  return client.createFunction(
    {
      id: RECONCILE_FUNCTION_ID,
      name: "Reconcile users with Clerk",
      triggers: deps.cron ? [{ cron: deps.cron }, reconcileRequested] : [reconcileRequested],
      // A second trigger while a run is going is skipped, not queued.
      singleton: { mode: "skip" },
      retries: RETRIES,
    },
    async ({ event, step, runId: inngestRunId, attempt, maxAttempts }) => {
      const trigger: SyncTrigger = event.name === reconcileRequested.name ? "event" : "cron";
      const dryRun = trigger === "event" &&
        (event.data as { dryRun?: unknown } | undefined)?.dryRun === true;
      const log = deps.logger.child({
        function: RECONCILE_FUNCTION_ID,
        inngest_run_id: inngestRunId,
      });
      // Set once start-run has recorded the run, so failures can be recorded on it.
      const recorded: { runId?: string } = {};

      /**
       * A step whose failure is mapped to a retry decision, and recorded on
       * the run when no retry will follow.
       */
      const guarded = <T>(id: string, action: string, work: () => Promise<T>) =>
        step.run(id, async () => {
          try {
            return await work();
          } catch (error) {
            const mapped = (await failures()).stepFailure(action, error);
            const last = attempt + 1 >= (maxAttempts ?? RETRIES + 1);
            if (recorded.runId && (mapped instanceof NonRetriableError || last)) {
              await recordFailure(deps, log, recorded.runId, mapped.message);
            }
            throw mapped;
          }
        });

      const run = await guarded(
        "start-run",
        "Cannot start reconciling users with Clerk",
        async () => {
          const id = await (await deps.store()).startRun(inngestRunId, trigger, dryRun);
          try {
            await deps.clerkReady();
          } catch (error) {
            const message = errorText(error);
            await recordFailure(deps, log, id, message);
            throw new NonRetriableError(message);
          }
          log.info("Reconcile started", { run_id: id, trigger, dry_run: dryRun });
          return id;
        },
      );
      recorded.runId = run;

      const runInfo: ReconcileRun = {
        runId: run,
        dryRun,
        log,
        pageSize,
        pagesPerStep,
        confirmBatchSize,
      };
      for (const part of deps.parts) await part.run(guarded as GuardedStep, runInfo);

      const summary = await guarded("finish-run", "Cannot finish the reconcile run", async () => {
        const result = await (await deps.store()).finishRun(run, "succeeded");
        log.info("Reconcile finished", { run_id: run, ...result });
        return result;
      });
      return { runId: run, ...summary };
    },
  );
}

async function recordFailure(deps: ReconcileDeps, log: Logger, runId: string, message: string) {
  try {
    await (await deps.store()).finishRun(runId, "failed", message);
  } catch (error) {
    // The next run marks this one failed when it starts.
    log.warn("Cannot record the failed reconcile run", { run_id: runId, ...errorFields(error) });
  }
  log.error("Reconcile failed", { run_id: runId, ...errorFields(message) });
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
