/**
 * Writes to `public.organizations` and `public.organization_memberships`,
 * through the SQL functions of the organizations migration.
 */
import type { MembershipRow, OrganizationRow } from "./rows.ts";

/** What an organization event did: see `public.apply_organization_from_clerk`. */
export type OrganizationOutcome = "inserted" | "updated" | "stale" | "deleted";

/** What an organization deletion did. */
export type OrganizationDeleteOutcome = "deleted" | "already_deleted";

/**
 * What a membership event did: see
 * `public.apply_organization_membership_from_clerk`. `deleted` means this
 * event made it not live; `not_live` that it already was not (or its
 * organization or user is a tombstone), and nothing changed.
 */
export type MembershipOutcome = "inserted" | "updated" | "deleted" | "stale" | "not_live";

/** A live membership of a user, as `POST /users/me/sync` answers it. */
export interface LiveMembership {
  readonly organization_id: string;
  readonly role: string;
}

/** The organizations tables, as the workflows and `/users/me/sync` need them. */
export interface OrganizationsStore {
  /** Applies a created/updated organization; the newest `clerk_updated_at` wins. */
  upsertOrganization(row: OrganizationRow): Promise<OrganizationOutcome>;
  /** Tombstones an organization at `deletedAt` and ends its memberships. */
  deleteOrganization(id: string, deletedAt: string): Promise<OrganizationDeleteOutcome>;
  /** Applies a membership (a deletion when `row.deleted_at` is set). */
  upsertMembership(row: MembershipRow): Promise<MembershipOutcome>;
  /** The user's live memberships in live organizations. */
  liveMemberships(userId: string): Promise<LiveMembership[]>;
  /**
   * Applies every membership of `userId` that Clerk listed at `listedAt`,
   * and their organizations; ends the user's live memberships created
   * before then that Clerk no longer lists. Returns the user's live
   * memberships.
   */
  syncUserMemberships(
    userId: string,
    organizations: readonly OrganizationRow[],
    memberships: readonly MembershipRow[],
    listedAt: string,
  ): Promise<LiveMembership[]>;
}
