/**
 * The users store over supabase-js. Loaded lazily, so that the webhook path
 * never pays for importing supabase-js.
 */
import type { SupabaseClient } from "@supabase/supabase-js";
import { callRpc } from "../database/rpc.ts";
import type { UserRow } from "./user_row.ts";
import type {
  ApiSyncResult,
  DeleteOutcome,
  Recipient,
  StoredSyncState,
  UpsertOutcome,
  UsersStore,
} from "./users_store.ts";

/** A {@link UsersStore} that calls the SQL write functions with `rpc()`. */
export function createSupabaseUsersStore(client: SupabaseClient): UsersStore {
  return {
    upsert: (row) => callRpc<UpsertOutcome>(client, "upsert_user_from_clerk", upsertArgs(row)),
    markDeleted: (id, deletedAt) =>
      callRpc<DeleteOutcome>(client, "delete_user_from_clerk", {
        p_id: id,
        p_deleted_at: deletedAt,
      }),
    findRecipient: (id) =>
      callRpc<Recipient | null>(client, "onboarding_recipient", { p_user_id: id }),
    findForSync: (id, freshForSeconds) =>
      callRpc<StoredSyncState | null>(client, "user_for_me_sync", {
        p_id: id,
        p_fresh_seconds: Math.round(freshForSeconds),
      }),
    syncFromApi: (row) =>
      callRpc<ApiSyncResult>(client, "sync_user_from_clerk_api", upsertArgs(row)),
  };
}

/** The arguments of the SQL functions that take a whole user row. */
function upsertArgs(row: UserRow): Record<string, unknown> {
  return {
    p_id: row.id,
    p_email: row.email,
    p_first_name: row.first_name,
    p_last_name: row.last_name,
    p_username: row.username,
    p_image_url: row.image_url,
    p_clerk_created_at: row.clerk_created_at,
    p_clerk_updated_at: row.clerk_updated_at,
  };
}
