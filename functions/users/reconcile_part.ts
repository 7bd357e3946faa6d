/**
 * The users' part of `reconcile-users-with-clerk` (the part the reconcile
 * runs first; see `../reconcile/reconcile_part.ts`):
 *
 * 1. `sync-users-from-<offset>` lists up to 10 pages of `GET /v1/users`
 *    (500 users each, oldest first, so users created during the run land
 *    on later pages instead of shifting earlier ones) and applies each page
 *    in one SQL call, with the webhook path's rules: newest `updated_at`
 *    wins, tombstones stay. The ids go to `public.clerk_sync_seen`; the
 *    step returns a count and the next offset only.
 * 2. `collect-absent` records, in `public.clerk_sync_absent`, the users in
 *    the table that Clerk did not list and that were written before the
 *    run started. `confirm-absent-<n>` asks Clerk for 25 of them at a
 *    time: a 404 erases the user like `delete-user-from-clerk`; a user
 *    Clerk still has (missed because a deletion shifted the pages) is
 *    upserted.
 */
import type { ClerkBackendApi } from "../clerk/backend_api.ts";
import type { ReconcilePart } from "../reconcile/reconcile_part.ts";
import { collectThenConfirm, stepThroughPages } from "../inngest/step_loops.ts";
import { lazy } from "../util/lazy.ts";
import type { UsersReconcileStore } from "./reconcile_store.ts";
import type { ReconcileContext } from "./reconcile_steps.ts";

// The steps load when one first runs: the webhook path never needs them.
const steps = lazy(() => import("./reconcile_steps.ts"));

/** What the users' part needs. */
export interface UsersReconcileDeps {
  readonly clerk: () => Promise<ClerkBackendApi>;
  readonly store: () => Promise<UsersReconcileStore>;
}

/** The users' part of the reconcile. */
export function createUsersReconcilePart(deps: UsersReconcileDeps): ReconcilePart {
  return {
    name: "users",
    async run(guarded, run) {
      const context = async (): Promise<ReconcileContext> => ({
        ...run,
        clerk: await deps.clerk(),
        store: await deps.store(),
      });

      await stepThroughPages(
        guarded,
        "sync-users",
        "Cannot reconcile users",
        async (from) => (await steps()).syncUsersFrom(await context(), from),
      );
      await collectThenConfirm(guarded, {
        id: "collect-absent",
        action: "Cannot collect the users Clerk did not list",
        work: async () => (await deps.store()).collectAbsent(run.runId),
      }, {
        id: "confirm-absent",
        action: "Cannot confirm absent users with Clerk",
        work: async () => (await steps()).confirmAbsentUsers(await context()),
      });
    },
  };
}
