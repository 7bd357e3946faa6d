/**
 * The billing store over supabase-js. Loaded lazily, when a Stripe step or
 * the trial-offer email first needs it.
 */
import type { SupabaseClient } from "@supabase/supabase-js";
import { callRpc } from "../database/rpc.ts";
import type { BillingState, BillingStore, TombstoneResult } from "./billing_store.ts";

/** A {@link BillingStore} that calls the SQL functions with `rpc()`. */
export function createSupabaseBillingStore(client: SupabaseClient): BillingStore {
  return {
    state: (userId) =>
      callRpc<BillingState>(client, "billing_customer_state", { p_user_id: userId }),
    recordCustomer: (userId, customerId, clerkUpdatedAt) =>
      callRpc(client, "record_stripe_customer", {
        p_user_id: userId,
        p_customer_id: customerId,
        p_clerk_updated_at: clerkUpdatedAt,
      }),
    recordTrial: (userId, subscriptionId, trialEndsAt) =>
      callRpc(client, "record_stripe_trial", {
        p_user_id: userId,
        p_subscription_id: subscriptionId,
        p_trial_ends_at: trialEndsAt,
      }),
    recordCustomerVersion: (userId, clerkUpdatedAt) =>
      callRpc(client, "record_stripe_customer_version", {
        p_user_id: userId,
        p_clerk_updated_at: clerkUpdatedAt,
      }),
    tombstone: (userId, deletedAt) =>
      callRpc<TombstoneResult>(client, "tombstone_billing_customer", {
        p_user_id: userId,
        p_deleted_at: deletedAt,
      }),
    customersOfDeletedUsers: async (limit) =>
      (await callRpc<string[] | null>(client, "billing_customers_of_deleted_users", {
        p_limit: limit,
      })) ?? [],
  };
}
