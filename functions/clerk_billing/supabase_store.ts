/**
 * The Clerk Billing store over supabase-js. Loaded lazily, like the others.
 */
import type { SupabaseClient } from "@supabase/supabase-js";
import { callRpc } from "../database/rpc.ts";
import type { BillingOutcomes, BillingStore } from "./store.ts";

/** A {@link BillingStore} that calls the SQL function with `rpc()`. */
export function createSupabaseBillingStore(client: SupabaseClient): BillingStore {
  return {
    apply: (batch) =>
      callRpc<BillingOutcomes>(client, "apply_billing_from_clerk", {
        p_subscriptions: batch.subscriptions,
        p_items: batch.items,
        p_payment_attempts: batch.paymentAttempts,
      }),
  };
}
