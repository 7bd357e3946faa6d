/**
 * The reconcile: webhooks are not guaranteed, so `reconcile-users-with-clerk`
 * pages through Clerk's Backend API on a schedule (`CLERK_RECONCILE_CRON`)
 * and on demand (`clerk-events/reconcile.requested`), and each part plugged
 * in by another feature repairs what that feature mirrors.
 */
import { type Feature, type FeatureContext, stateOf } from "../feature/feature.ts";
import { lazy } from "../util/lazy.ts";
import { createReconcileFunction } from "./reconcile_function.ts";
import type { ReconcilePart } from "./reconcile_part.ts";

/** What the reconcile takes from the other features, and its sizes. */
export interface ReconcilePorts {
  /** What a run repairs, in order. */
  readonly parts: readonly ReconcilePart[];
  /** Users or rows per Clerk page (default 500). */
  readonly pageSize?: number;
  /** Pages per step (default 10). */
  readonly pagesPerStep?: number;
  /** Absent rows confirmed with Clerk per step (default 25). */
  readonly confirmBatchSize?: number;
}

/** Builds the reconcile feature. */
export function reconcileFeature(context: FeatureContext, ports: ReconcilePorts): Feature {
  const { settings, services, logger } = context;
  return {
    name: "reconcile",
    state: stateOf(settings, ["clerkApi", "database"]),
    functions: (client) => [
      createReconcileFunction(client, {
        ...ports,
        clerkReady: services.clerk,
        store: lazy(async () => {
          const { createSupabaseRunsStore } = await import("./supabase_runs_store.ts");
          return createSupabaseRunsStore(await services.supabase());
        }),
        logger,
        // Without valid Clerk API settings there is no schedule; a requested
        // run fails at once, naming the problem.
        cron: settings.clerkApi.ok ? settings.clerkApi.value.reconcileCron : undefined,
      }),
    ],
  };
}
