/**
 * The ledger of Clerk's own emails over supabase-js: two SQL functions of
 * the auth emails migration. Loaded on the first email to record.
 */
import type { SupabaseClient } from "@supabase/supabase-js";
import { callRpc } from "../database/rpc.ts";
import type { DeliveryStatus } from "../email/deliveries_store.ts";
import type { AuthEmailLedger } from "./ledger.ts";

/** An {@link AuthEmailLedger} that calls `auth_email_status` and `record_auth_email`. */
export function createSupabaseAuthEmailLedger(client: SupabaseClient): AuthEmailLedger {
  return {
    status: async (svixId) =>
      (await callRpc<DeliveryStatus | null>(client, "auth_email_status", { p_svix_id: svixId })) ??
        undefined,
    record: (entry) =>
      callRpc<DeliveryStatus>(client, "record_auth_email", {
        p_svix_id: entry.svixId,
        p_user_id: entry.userId,
        p_slug: entry.slug,
        p_status: entry.status,
        p_resend_id: entry.resendId ?? null,
        p_error: entry.error ?? null,
      }),
  };
}
