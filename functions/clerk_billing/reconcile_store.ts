/**
 * The bookkeeping of the Clerk Billing part of `reconcile-users-with-clerk`,
 * through the SQL functions of the Clerk Billing migration. Each call is one
 * round trip, whatever the number of rows it carries.
 */
import type { PageCounts } from "../reconcile/reconcile_part.ts";
import type { BillingBatch, SubscriptionItemRow } from "./rows.ts";

/** Counts of a resolve call: the items applied, and the payers confirmed. */
export type ConfirmCounts = PageCounts & { readonly confirmed: number };

/** The reconcile run's view of the Clerk Billing tables. */
export interface BillingReconcileStore {
  /** Records the items listed at `offset` as seen and applies them (not in a dry run). */
  applyPage(
    runId: string,
    offset: number,
    items: readonly SubscriptionItemRow[],
    dryRun: boolean,
  ): Promise<PageCounts>;
  /**
   * Records the payers with items that could still grant a plan which the
   * run did not list; returns how many are left to ask Clerk about.
   */
  collectAbsent(runId: string): Promise<number>;
  /** Up to `limit` payers (user or organization ids) still to ask about. */
  absentPayers(runId: string, limit: number): Promise<string[]>;
  /** Applies what Clerk answered for `payers`, and marks them confirmed. */
  resolveAbsent(
    runId: string,
    payers: readonly string[],
    answers: Pick<BillingBatch, "subscriptions" | "items">,
    dryRun: boolean,
  ): Promise<ConfirmCounts>;
}
