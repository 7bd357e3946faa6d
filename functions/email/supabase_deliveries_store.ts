/**
 * The deliveries ledger over supabase-js. Loaded lazily with the workflows.
 */
import type { SupabaseClient } from "@supabase/supabase-js";
import { callRpc } from "../database/rpc.ts";
import type { DeliveriesStore, DeliveryStatus } from "./deliveries_store.ts";

/** A {@link DeliveriesStore} that calls the SQL functions with `rpc()`. */
export function createSupabaseDeliveriesStore(client: SupabaseClient): DeliveriesStore {
  return {
    claim: (userId, kind) =>
      callRpc<DeliveryStatus>(client, "claim_email_delivery", { p_user_id: userId, p_kind: kind }),
    record: (userId, kind, outcome) =>
      callRpc<DeliveryStatus>(client, "record_email_delivery", {
        p_user_id: userId,
        p_kind: kind,
        p_status: outcome.status,
        p_resend_id: outcome.resendId ?? null,
        p_error: outcome.error ?? null,
      }),
  };
}
