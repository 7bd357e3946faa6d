/**
 * Writes to the Clerk Billing tables through `public.apply_billing_from_clerk`
 * (the Clerk Billing migration): one call per event, whatever it carries.
 */
import type { BillingBatch } from "./rows.ts";

/**
 * What one row of a batch did: `inserted`, `updated`, or `stale` (an older
 * version than the row's, or a replay: nothing changed).
 */
export type BillingOutcome = "inserted" | "updated" | "stale";

/** The outcomes of a batch, each in the order of its rows. */
export interface BillingOutcomes {
  readonly subscriptions: readonly BillingOutcome[];
  readonly items: readonly BillingOutcome[];
  readonly payment_attempts: readonly BillingOutcome[];
}

/** The Clerk Billing tables, as the workflows write them. */
export interface BillingStore {
  /**
   * Applies the batch in one transaction: the newest `clerk_updated_at`
   * wins per row, equal versions merge, replays change nothing.
   */
  apply(batch: BillingBatch): Promise<BillingOutcomes>;
}
