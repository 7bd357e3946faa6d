/**
 * The Clerk Billing part of `reconcile-users-with-clerk` (see
 * `../reconcile/reconcile_part.ts`), run after the organizations' part:
 *
 * 1. `sync-billing-items-from-<offset>` pages
 *    `GET /v1/billing/subscription_items` (10 pages of 500 per step) and
 *    applies each page in one SQL call, with the webhook path's rules; the
 *    ids go to `public.clerk_sync_billing_seen`. An instance without Clerk
 *    Billing (the listing answers 403, 404 or 422) ends the part here.
 * 2. `collect-absent-billing-payers`, then
 *    `confirm-absent-billing-payers-<n>` (25 per step, one request each):
 *    each payer whose items could still grant a plan, but were not listed,
 *    is asked for its subscription.
 *
 * The same Clerk client, and so the same request budget, as the other parts.
 */
import type { ClerkBillingApi } from "../clerk/billing_api.ts";
import type { ReconcilePart } from "../reconcile/reconcile_part.ts";
import { collectThenConfirm, stepThroughPages } from "../inngest/step_loops.ts";
import { lazy } from "../util/lazy.ts";
import type { BillingReconcileContext } from "./reconcile_billing_steps.ts";
import type { BillingReconcileStore } from "./reconcile_store.ts";

const steps = lazy(() => import("./reconcile_billing_steps.ts"));

/** What the billing steps need. */
export interface BillingReconcileDeps {
  readonly clerk: () => Promise<ClerkBillingApi>;
  readonly store: () => Promise<BillingReconcileStore>;
}

/** The Clerk Billing part of the reconcile. */
export function createBillingReconcilePart(deps: BillingReconcileDeps): ReconcilePart {
  return {
    name: "clerk_billing",
    async run(guarded, run) {
      const context = async (): Promise<BillingReconcileContext> => ({
        ...run,
        clerk: await deps.clerk(),
        store: await deps.store(),
      });

      const listed = await stepThroughPages(
        guarded,
        "sync-billing-items",
        "Cannot reconcile Clerk billing items",
        async (from) => (await steps()).syncBillingItemsFrom(await context(), from),
      );
      if (!listed) return;
      await collectThenConfirm(guarded, {
        id: "collect-absent-billing-payers",
        action: "Cannot collect the billing payers Clerk did not list",
        work: async () => (await deps.store()).collectAbsent(run.runId),
      }, {
        id: "confirm-absent-billing-payers",
        action: "Cannot confirm absent billing payers with Clerk",
        work: async () => (await steps()).confirmAbsentPayers(await context()),
      });
    },
  };
}
