/**
 * The email preferences store over supabase-js. Loaded lazily, when a route
 * or a workflow step first needs it.
 */
import type { SupabaseClient } from "@supabase/supabase-js";
import { callRpc } from "../database/rpc.ts";
import type { EmailPreferencesStore } from "./preferences_store.ts";

/** An {@link EmailPreferencesStore} that calls the SQL functions with `rpc()`. */
export function createSupabasePreferencesStore(client: SupabaseClient): EmailPreferencesStore {
  return {
    isOptedOut: (userId) =>
      callRpc<boolean>(client, "marketing_email_opted_out", { p_user_id: userId }),
    optOut: (userId, source) =>
      callRpc(client, "opt_out_of_marketing_email", { p_user_id: userId, p_source: source }),
    recordEvent: (event) =>
      callRpc(client, "record_email_event", {
        p_resend_id: event.resendId,
        p_event: event.event,
        p_at: event.at,
        p_opt_out_source: event.optOut ?? null,
      }),
    recordNewsletterOptOut: (address, source) =>
      callRpc(client, "record_newsletter_opt_out", { p_address: address, p_source: source }),
  };
}
