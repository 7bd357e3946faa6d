/**
 * Organizations (B2B): `public.organizations` and
 * `public.organization_memberships` mirror Clerk's, the way users are
 * (newest `updated_at` wins, tombstones stay), readable under row level
 * security by members, with SQL helpers for the app's own policies (the
 * organizations migration).
 *
 * Besides its two workflows it fills two ports of the others: the
 * memberships part of `/users/me/sync`, and a part of the reconcile.
 */
import { type Feature, type FeatureContext, stateOf } from "../feature/feature.ts";
import { lazy } from "../util/lazy.ts";
import { organizationEvents } from "./events.ts";
import { createMeSyncMemberships } from "./me_sync_memberships.ts";
import { createOrganizationsReconcilePart } from "./reconcile_organizations.ts";
import { createSyncOrganizationFunction } from "./sync_organization.ts";
import { createSyncMembershipFunction } from "./sync_organization_membership.ts";

/** The organizations feature, and what it gives the others. */
export interface OrganizationsFeature extends Feature {
  /** The memberships part of `/users/me/sync`. */
  readonly memberships: ReturnType<typeof createMeSyncMemberships>;
  /** Its part of the reconcile. */
  readonly reconcile: ReturnType<typeof createOrganizationsReconcilePart>;
}

/** Builds the organizations feature. */
export function organizationsFeature(context: FeatureContext): OrganizationsFeature {
  const { settings, services, logger } = context;
  const store = lazy(async () => {
    const { createSupabaseOrganizationsStore } = await import("./supabase_store.ts");
    return createSupabaseOrganizationsStore(await services.supabase());
  });
  const deps = { organizations: store, logger };
  return {
    name: "organizations",
    state: stateOf(settings, ["database"]),
    events: organizationEvents,
    memberships: createMeSyncMemberships({ clerk: services.clerk, store }),
    reconcile: createOrganizationsReconcilePart({
      clerk: services.clerk,
      store: lazy(async () => {
        const { createSupabaseOrganizationsReconcileStore } = await import(
          "./supabase_reconcile_store.ts"
        );
        return createSupabaseOrganizationsReconcileStore(await services.supabase());
      }),
    }),
    functions: (client) => [
      createSyncOrganizationFunction(client, deps),
      createSyncMembershipFunction(client, deps),
    ],
  };
}
