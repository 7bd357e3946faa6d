/**
 * The newsletter store over supabase-js: each method one SQL function,
 * called with `rpc()`. Loaded lazily by the workflow's steps.
 */
import type { SupabaseClient } from "@supabase/supabase-js";
import { callRpc } from "../database/rpc.ts";
import type { ConsentEvent, NewsletterStore } from "./store.ts";

const consentArgs = (event: ConsentEvent) => ({
  p_user_id: event.userId,
  p_consent: event.consent,
  p_at: event.at,
  p_address: event.address,
});

/** A {@link NewsletterStore} on `client`. */
export function createSupabaseNewsletterStore(client: SupabaseClient): NewsletterStore {
  return {
    plan: (event) => callRpc(client, "newsletter_plan", consentArgs(event)),
    commit: (event, plan) =>
      callRpc(client, "newsletter_commit", {
        ...consentArgs(event),
        p_action: plan.action,
        p_planned_at: plan.planned_at,
      }),
    pendingUnsubscribe: (userId) =>
      callRpc(client, "newsletter_pending_unsubscribe", { p_user_id: userId }),
    unsubscribeConfirmed: async (userId, address) => {
      await callRpc(client, "newsletter_unsubscribe_confirmed", {
        p_user_id: userId,
        p_address: address,
      });
    },
    pendingUnsubscribes: async (limit) =>
      (await callRpc<string[] | null>(client, "newsletter_pending_unsubscribes", {
        p_limit: limit,
      })) ?? [],
    eraseBegin: (userId, deletedAt) =>
      callRpc(client, "newsletter_erase_begin", { p_user_id: userId, p_deleted_at: deletedAt }),
    eraseDone: async (userId) => {
      await callRpc(client, "newsletter_erase_done", { p_user_id: userId });
    },
  };
}
