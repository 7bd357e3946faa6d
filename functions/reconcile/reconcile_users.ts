/**
 * `reconcile-users-with-clerk`: makes `public.users` converge on Clerk's
 * truth. It backfills users who existed before installation, repairs rows a
 * lost webhook left stale, and erases users deleted while nobody listened.
 *
 * 1. `start-run` records the run in `public.clerk_sync_runs`.
 * 2. `sync-users-from-<offset>` lists up to 10 pages of `GET /v1/users`
 *    (500 users each, oldest first, so users created during the run land
 *    on later pages instead of shifting earlier ones) and applies each page
 *    in one SQL call, with the webhook path's rules: newest `updated_at`
 *    wins, tombstones stay. The ids go to `public.clerk_sync_seen`; the
 *    step returns a count and the next offset only.
 * 3. `collect-absent` records, in `public.clerk_sync_absent`, the users in
 *    the table that Clerk did not list and that were written before the
 *    run started. `confirm-absent-<n>` asks Clerk for 25 of them at a
 *    time: a 404 erases the user like `delete-user-from-clerk`; a user
 *    Clerk still has (missed because a deletion shifted the pages) is
 *    upserted.
 * 4. The same for organizations and memberships (`reconcile_organizations.ts`).
 * 5. `finish-run` records the counts.
 *
 * It never sends email and never emits `clerk/user.created`: backfilled
 * users are not new sign-ups. One run at a time: a trigger that arrives
 * while a run is going is skipped (`singleton`, mode `skip`).
 */
import { type Inngest, NonRetriableError } from "inngest";
import type { ClerkBackendApi } from "../clerk/backend_api.ts";
import { reconcileRequested } from "../inngest/events.ts";
import { errorFields, type Logger } from "../util/log.ts";
import type { ReconcileStore, SyncTrigger } from "./reconcile_store.ts";
import type { ReconcileContext } from "./reconcile_steps.ts";
import { lazy } from "../util/lazy.ts";
import {
  type GuardedStep,
  type OrganizationsReconcileDeps,
  reconcileOrganizations,
} from "../organizations/reconcile_organizations.ts";

// The steps, and the Clerk client they use, load when a step first runs:
// the webhook path never needs them (see the cold-start benchmark).
const stepsModule = lazy(() => import("./reconcile_steps.ts"));

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
  /** The Backend API client; rejects, naming the problem, while its settings are invalid. */
  readonly clerk: () => Promise<ClerkBackendApi>;
  readonly store: () => Promise<ReconcileStore>;
  readonly logger: Logger;
  /** The schedule; `undefined` registers the event trigger only. */
  readonly cron?: string;
  readonly pageSize?: number;
  readonly pagesPerStep?: number;
  readonly confirmBatchSize?: number;
  /** Organizations and memberships, repaired after the users (see reconcile_organizations.ts). */
  readonly organizations?: OrganizationsReconcileDeps;
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
            const mapped = (await stepsModule()).stepFailure(action, error);
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
            await deps.clerk();
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

      const context = async (): Promise<ReconcileContext> => ({
        clerk: await deps.clerk(),
        store: await deps.store(),
        log,
        runId: run,
        dryRun,
        pageSize,
        pagesPerStep,
        confirmBatchSize,
      });

      for (let offset: number | null = 0; offset !== null;) {
        const from: number = offset;
        const progress = await guarded(
          `sync-users-from-${from}`,
          `Cannot reconcile users at offset ${from}`,
          async () => (await stepsModule()).syncUsersFrom(await context(), from),
        );
        offset = progress.next;
      }

      const absent = await guarded(
        "collect-absent",
        "Cannot collect the users Clerk did not list",
        async () => (await deps.store()).collectAbsent(run),
      );
      for (let batch = 0; absent > 0; batch++) {
        const checked = await guarded(
          `confirm-absent-${batch}`,
          "Cannot confirm absent users with Clerk",
          async () => (await stepsModule()).confirmAbsentUsers(await context()),
        );
        if (checked === 0) break;
      }

      if (deps.organizations) {
        await reconcileOrganizations(guarded as GuardedStep, deps.organizations, {
          runId: run,
          dryRun,
          log,
          pageSize,
          pagesPerStep,
          confirmBatchSize,
        });
      }

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
