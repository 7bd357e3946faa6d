/**
 * The users' reconcile store over supabase-js. Loaded lazily, like every store.
 */
import type { SupabaseClient } from "@supabase/supabase-js";
import { callRpc } from "../database/rpc.ts";
import type { PageCounts } from "../reconcile/reconcile_part.ts";
import type { UsersReconcileStore } from "./reconcile_store.ts";

/** A {@link UsersReconcileStore} that calls the SQL functions with `rpc()`. */
export function createSupabaseUsersReconcileStore(client: SupabaseClient): UsersReconcileStore {
  return {
    applyPage: (runId, offset, rows, dryRun) =>
      callRpc<PageCounts>(client, "reconcile_clerk_users_page", {
        p_run_id: runId,
        p_offset: offset,
        p_users: rows,
        p_dry_run: dryRun,
      }),
    collectAbsent: (runId) =>
      callRpc<number>(client, "collect_absent_clerk_users", { p_run_id: runId }),
    absentUsers: (runId, limit) =>
      callRpc<string[]>(client, "clerk_sync_absent_users", { p_run_id: runId, p_limit: limit }),
    resolveAbsent: (runId, found, gone, dryRun) =>
      callRpc<PageCounts & { tombstoned: number }>(client, "resolve_absent_clerk_users", {
        p_run_id: runId,
        p_found: found,
        p_gone: gone,
        p_dry_run: dryRun,
      }),
  };
}
