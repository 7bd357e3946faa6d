/**
 * The newsletter store over supabase-js: each method one SQL function,
 * called with `rpc()`. Loaded lazily by the workflow's steps.
 */
import type { SupabaseClient } from "@supabase/supabase-js";
import { callRpc } from "../database/rpc.ts";
import type { NewsletterStore, WantedState } from "./store.ts";

/** A {@link NewsletterStore} on `client`. */
export function createSupabaseNewsletterStore(client: SupabaseClient): NewsletterStore {
  return {
    observe: (event) =>
      callRpc(client, "newsletter_observe", {
        p_user_id: event.userId,
        p_consent: event.consent,
        p_at: event.at,
        p_address: event.address,
      }),
    observeMany: (events) =>
      callRpc<number>(client, "newsletter_observe_many", {
        p_states: events.map((e) => ({
          user_id: e.userId,
          consent: e.consent,
          at: e.at,
          address: e.address,
        })),
      }),
    wanted: (userId) => callRpc<WantedState>(client, "newsletter_wanted", { p_user_id: userId }),
    providerDone: (userId, address, subscribed, readAt) =>
      callRpc(client, "newsletter_provider_done", {
        p_user_id: userId,
        p_address: address,
        p_subscribed: subscribed,
        p_read_at: readAt,
      }),
    providerKeptOut: async (userId) => {
      await callRpc(client, "newsletter_provider_kept_out", { p_user_id: userId });
    },
    erase: async (userId, deletedAt) => {
      await callRpc(client, "newsletter_erase", { p_user_id: userId, p_deleted_at: deletedAt });
    },
    removals: async (userId) =>
      (await callRpc<string[] | null>(client, "newsletter_removals_of", { p_user_id: userId })) ??
        [],
    removalDone: async (userId, address) => {
      await callRpc(client, "newsletter_removal_done", { p_user_id: userId, p_address: address });
    },
    pendingUnsubscribes: async (limit) =>
      (await callRpc<string[] | null>(client, "newsletter_pending_unsubscribes", {
        p_limit: limit,
      })) ?? [],
  };
}
