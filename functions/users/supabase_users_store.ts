/**
 * The users store over supabase-js. Loaded lazily, so that the webhook path
 * never pays for importing supabase-js.
 */
import type { SupabaseClient } from "@supabase/supabase-js";
import { callRpc } from "../database/rpc.ts";
import type { DeleteOutcome, Recipient, UpsertOutcome, UsersStore } from "./users_store.ts";

/** A {@link UsersStore} that calls the SQL write functions with `rpc()`. */
export function createSupabaseUsersStore(client: SupabaseClient): UsersStore {
  return {
    upsert: (row) =>
      callRpc<UpsertOutcome>(client, "upsert_user_from_clerk", {
        p_id: row.id,
        p_email: row.email,
        p_first_name: row.first_name,
        p_last_name: row.last_name,
        p_username: row.username,
        p_image_url: row.image_url,
        p_clerk_created_at: row.clerk_created_at,
        p_clerk_updated_at: row.clerk_updated_at,
      }),
    markDeleted: (id, deletedAt) =>
      callRpc<DeleteOutcome>(client, "delete_user_from_clerk", {
        p_id: id,
        p_deleted_at: deletedAt,
      }),
    findRecipient: (id) =>
      callRpc<Recipient | null>(client, "onboarding_recipient", { p_user_id: id }),
  };
}
