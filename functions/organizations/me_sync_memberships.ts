/**
 * The memberships part of `POST /users/me/sync`, filled in for the port
 * the users feature declares (`MeSyncMemberships` in
 * `../users/me_sync.ts`): the user's memberships as
 * `GET /v1/users/{id}/organization_memberships` lists them, applied with
 * the webhooks' rules, and their organizations with them.
 */
import type { ClerkOrganizationsApi } from "../clerk/organizations_api.ts";
import {
  type ClerkOrganizationMembership,
  clerkOrganizationSchema,
} from "../clerk/organization_schemas.ts";
import { toMembershipRow, toOrganizationRow } from "./rows.ts";
import type { LiveMembership, OrganizationsStore } from "./store.ts";

/** A user's memberships as Clerk listed them, and when. */
export interface ListedMemberships {
  readonly listedAt: string;
  readonly all: readonly ClerkOrganizationMembership[];
}

/** What {@link createMeSyncMemberships} needs. */
export interface MeSyncMembershipsDeps {
  readonly clerk: () => Promise<Pick<ClerkOrganizationsApi, "listUserMemberships">>;
  readonly store: () => Promise<OrganizationsStore>;
  /** The clock, for tests. */
  readonly now?: () => Date;
}

/** The memberships part of `/users/me/sync`. */
export function createMeSyncMemberships(deps: MeSyncMembershipsDeps) {
  const now = deps.now ?? (() => new Date());
  return {
    async list(userId: string): Promise<ListedMemberships> {
      const clerk = await deps.clerk();
      const listedAt = now().toISOString();
      const all: ClerkOrganizationMembership[] = [];
      for (let offset = 0;;) {
        const page = await clerk.listUserMemberships(userId, { limit: 500, offset }, {
          priority: "interactive",
        });
        all.push(...page.data);
        offset += page.data.length;
        if (page.data.length === 0 || offset >= page.totalCount) return { listedAt, all };
      }
    },

    async apply(userId: string, listed: ListedMemberships): Promise<LiveMembership[]> {
      const organizations = listed.all.flatMap((m) => {
        const org = clerkOrganizationSchema.safeParse(m.organization);
        return org.success ? [toOrganizationRow(org.data)] : [];
      });
      const memberships = listed.all
        .filter((m) => m.public_user_data.user_id === userId)
        .map((m) => toMembershipRow(m));
      return (await deps.store()).syncUserMemberships(
        userId,
        organizations,
        memberships,
        listed.listedAt,
      );
    },

    async stored(userId: string): Promise<LiveMembership[]> {
      return (await deps.store()).liveMemberships(userId);
    },
  };
}
