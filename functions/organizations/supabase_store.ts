/**
 * The organizations store over supabase-js. Loaded lazily, like the users store.
 */
import type { SupabaseClient } from "@supabase/supabase-js";
import { callRpc } from "../database/rpc.ts";
import type {
  LiveMembership,
  MembershipOutcome,
  OrganizationDeleteOutcome,
  OrganizationOutcome,
  OrganizationsStore,
} from "./store.ts";

/** An {@link OrganizationsStore} that calls the SQL functions with `rpc()`. */
export function createSupabaseOrganizationsStore(client: SupabaseClient): OrganizationsStore {
  return {
    upsertOrganization: (row) =>
      callRpc<OrganizationOutcome>(client, "apply_organization_from_clerk", {
        p_organization: row,
      }),
    deleteOrganization: async (id, deletedAt) => {
      const outcomes = await callRpc<OrganizationDeleteOutcome[]>(
        client,
        "delete_organizations_from_clerk",
        { p_ids: [id], p_deleted_at: deletedAt },
      );
      return outcomes[0];
    },
    upsertMembership: (row) =>
      callRpc<MembershipOutcome>(client, "apply_organization_membership_from_clerk", {
        p_membership: row,
      }),
    liveMemberships: (userId) =>
      callRpc<LiveMembership[]>(client, "user_live_memberships", { p_user_id: userId }),
    syncUserMemberships: (userId, organizations, memberships, listedAt) =>
      callRpc<LiveMembership[]>(client, "sync_user_memberships_from_clerk_api", {
        p_user_id: userId,
        p_organizations: organizations,
        p_memberships: memberships,
        p_listed_at: listedAt,
      }),
  };
}
