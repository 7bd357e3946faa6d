/**
 * The bookkeeping of the organizations part of `reconcile-users-with-clerk`,
 * through the SQL functions of the organizations migration. Each call is
 * one round trip, whatever the number of rows it carries.
 */
import type { PageCounts } from "../reconcile/reconcile_part.ts";
import type { MembershipRow, OrganizationRow } from "./rows.ts";

/** What a page lists. */
export type OrgSyncKind = "organization" | "membership";

/** Memberships of one organization that a run did not see in Clerk's list. */
export interface AbsentMembershipGroup {
  readonly organization_id: string;
  readonly memberships: readonly { readonly id: string; readonly user_id: string }[];
}

/** Counts of a resolve call. */
export type ResolveCounts = PageCounts & { readonly tombstoned: number };

/** The reconcile run's view of the organizations tables. */
export interface OrganizationsReconcileStore {
  /** Records the page of `kind` listed at `offset` as seen and upserts it (not in a dry run). */
  applyPage(
    runId: string,
    kind: OrgSyncKind,
    offset: number,
    rows: readonly (OrganizationRow | MembershipRow)[],
    dryRun: boolean,
  ): Promise<PageCounts>;
  /** Records the rows of `kind` the run did not see in Clerk; returns how many are left. */
  collectAbsent(runId: string, kind: OrgSyncKind): Promise<number>;
  /** Up to `limit` organizations still to confirm with Clerk. */
  absentOrganizations(runId: string, limit: number): Promise<string[]>;
  /** Up to `organizations` groups of up to `perOrganization` memberships to confirm. */
  absentMemberships(
    runId: string,
    organizations: number,
    perOrganization: number,
  ): Promise<AbsentMembershipGroup[]>;
  /** Upserts the organizations Clerk has, tombstones those it answered 404 for. */
  resolveAbsentOrganizations(
    runId: string,
    found: readonly OrganizationRow[],
    gone: readonly string[],
    dryRun: boolean,
  ): Promise<ResolveCounts>;
  /**
   * Upserts the memberships Clerk has, ends those its per-organization check
   * omitted, and tombstones the organizations it answered 404 for.
   */
  resolveAbsentMemberships(
    runId: string,
    found: readonly MembershipRow[],
    gone: readonly string[],
    goneOrganizations: readonly string[],
    dryRun: boolean,
  ): Promise<ResolveCounts>;
}
