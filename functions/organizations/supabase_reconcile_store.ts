/**
 * The organizations reconcile store over supabase-js. Loaded lazily.
 */
import type { SupabaseClient } from "@supabase/supabase-js";
import { callRpc } from "../database/rpc.ts";
import type { PageCounts } from "../reconcile/reconcile_part.ts";
import type {
  AbsentMembershipGroup,
  OrganizationsReconcileStore,
  ResolveCounts,
} from "./reconcile_store.ts";

/** An {@link OrganizationsReconcileStore} that calls the SQL functions with `rpc()`. */
export function createSupabaseOrganizationsReconcileStore(
  client: SupabaseClient,
): OrganizationsReconcileStore {
  return {
    applyPage: (runId, kind, offset, rows, dryRun) =>
      callRpc<PageCounts>(client, "reconcile_clerk_org_page", {
        p_run_id: runId,
        p_kind: kind,
        p_offset: offset,
        p_rows: rows,
        p_dry_run: dryRun,
      }),
    collectAbsent: (runId, kind) =>
      callRpc<number>(client, "collect_absent_clerk_org_rows", { p_run_id: runId, p_kind: kind }),
    absentOrganizations: (runId, limit) =>
      callRpc<string[]>(client, "clerk_sync_absent_organizations", {
        p_run_id: runId,
        p_limit: limit,
      }),
    absentMemberships: (runId, organizations, perOrganization) =>
      callRpc<AbsentMembershipGroup[]>(client, "clerk_sync_absent_memberships", {
        p_run_id: runId,
        p_orgs: organizations,
        p_per_org: perOrganization,
      }),
    resolveAbsentOrganizations: (runId, found, gone, dryRun) =>
      callRpc<ResolveCounts>(client, "resolve_absent_clerk_organizations", {
        p_run_id: runId,
        p_found: found,
        p_gone: gone,
        p_dry_run: dryRun,
      }),
    resolveAbsentMemberships: (runId, found, gone, goneOrganizations, dryRun) =>
      callRpc<ResolveCounts>(client, "resolve_absent_clerk_memberships", {
        p_run_id: runId,
        p_found: found,
        p_gone: gone,
        p_gone_orgs: goneOrganizations,
        p_dry_run: dryRun,
      }),
  };
}
