/**
 * `public.billing_customers`, as the Stripe workflows and the onboarding
 * email need it. Every call is one SQL function (see the migration
 * `20261202120000_billing_customers.sql`).
 */

/** The user's newest address and name, from `public.users`. */
export interface BillingProfile {
  readonly email: string | null;
  readonly first_name: string | null;
  readonly last_name: string | null;
  /** ISO 8601: Clerk's updated_at of this version. */
  readonly clerk_updated_at: string | null;
}

/** What the workflows read before every Stripe request. */
export interface BillingState {
  readonly stripe_customer_id: string | null;
  readonly stripe_subscription_id: string | null;
  /** ISO 8601, as Stripe answered it. */
  readonly trial_ends_at: string | null;
  /** ISO 8601: the newest Clerk version the Stripe customer was given. */
  readonly customer_version: string | null;
  /** A billing tombstone, or a tombstone in `public.users`. */
  readonly deleted: boolean;
  /** Null for a user never synced, or deleted. */
  readonly user: BillingProfile | null;
}

/** See `public.record_stripe_customer`. */
export type RecordCustomerOutcome = "recorded" | "deleted" | "duplicate";
/** See `public.record_stripe_trial`. */
export type RecordTrialOutcome = "recorded" | "deleted";
/** See `public.record_stripe_customer_version`. */
export type RecordVersionOutcome = "updated" | "stale" | "deleted" | "missing";

/** What `user.deleted` did to the billing row, and the customer to delete at Stripe. */
export interface TombstoneResult {
  readonly outcome: "deleted" | "already_deleted";
  readonly stripe_customer_id: string | null;
}

/** The billing table. */
export interface BillingStore {
  state(userId: string): Promise<BillingState>;
  recordCustomer(
    userId: string,
    customerId: string,
    clerkUpdatedAt: string,
  ): Promise<RecordCustomerOutcome>;
  recordTrial(
    userId: string,
    subscriptionId: string,
    trialEndsAt: string | null,
  ): Promise<RecordTrialOutcome>;
  recordCustomerVersion(userId: string, clerkUpdatedAt: string): Promise<RecordVersionOutcome>;
  tombstone(userId: string, deletedAt: string): Promise<TombstoneResult>;
  /** Users deleted in `public.users` whose billing row is live (up to `limit`). */
  customersOfDeletedUsers(limit: number): Promise<string[]>;
}
