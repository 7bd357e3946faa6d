/**
 * The reconcile store over supabase-js. Loaded lazily, like the users store.
 */
import type { SupabaseClient } from "@supabase/supabase-js";
import { callRpc } from "../database/rpc.ts";
import type { PageCounts, ReconcileStore, RunSummary } from "./reconcile_store.ts";

/** A {@link ReconcileStore} that calls the SQL functions with `rpc()`. */
export function createSupabaseReconcileStore(client: SupabaseClient): ReconcileStore {
  return {
    startRun: (inngestRunId, trigger, dryRun) =>
      callRpc<string>(client, "start_clerk_sync_run", {
        p_inngest_run_id: inngestRunId,
        p_trigger: trigger,
        p_dry_run: dryRun,
      }),
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
    finishRun: (runId, status, error) =>
      callRpc<RunSummary>(client, "finish_clerk_sync_run", {
        p_run_id: runId,
        p_status: status,
        p_error: error ?? null,
      }),
  };
}
