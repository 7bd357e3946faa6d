/**
 * The runs store over supabase-js. Loaded lazily, like every store.
 */
import type { SupabaseClient } from "@supabase/supabase-js";
import { callRpc } from "../database/rpc.ts";
import type { RunsStore, RunSummary } from "./runs_store.ts";

/** A {@link RunsStore} that calls the SQL functions with `rpc()`. */
export function createSupabaseRunsStore(client: SupabaseClient): RunsStore {
  return {
    startRun: (inngestRunId, trigger, dryRun) =>
      callRpc<string>(client, "start_clerk_sync_run", {
        p_inngest_run_id: inngestRunId,
        p_trigger: trigger,
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
