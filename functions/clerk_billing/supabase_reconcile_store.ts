/**
 * The Clerk Billing reconcile store over supabase-js. Loaded lazily.
 */
import type { SupabaseClient } from "@supabase/supabase-js";
import { callRpc } from "../database/rpc.ts";
import type { PageCounts } from "../reconcile/reconcile_part.ts";
import type { BillingReconcileStore, ConfirmCounts } from "./reconcile_store.ts";

/** A {@link BillingReconcileStore} that calls the SQL functions with `rpc()`. */
export function createSupabaseBillingReconcileStore(
  client: SupabaseClient,
): BillingReconcileStore {
  return {
    applyPage: (runId, offset, items, dryRun) =>
      callRpc<PageCounts>(client, "reconcile_clerk_billing_page", {
        p_run_id: runId,
        p_offset: offset,
        p_items: items,
        p_dry_run: dryRun,
      }),
    collectAbsent: (runId) =>
      callRpc<number>(client, "collect_absent_clerk_billing_payers", { p_run_id: runId }),
    absentPayers: (runId, limit) =>
      callRpc<string[]>(client, "clerk_sync_absent_billing_payers", {
        p_run_id: runId,
        p_limit: limit,
      }),
    resolveAbsent: (runId, payers, answers, dryRun) =>
      callRpc<ConfirmCounts>(client, "resolve_absent_clerk_billing_payers", {
        p_run_id: runId,
        p_payers: payers,
        p_subscriptions: answers.subscriptions,
        p_items: answers.items,
        p_dry_run: dryRun,
      }),
  };
}
