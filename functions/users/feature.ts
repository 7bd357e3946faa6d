/**
 * The users feature: `public.users` mirrors Clerk's users.
 *
 * - `sync-user-from-clerk` and `delete-user-from-clerk` apply Clerk's user
 *   events (newest `updated_at` wins; a deletion leaves a tombstone).
 * - `POST /users/me/sync` lets a signed-in user's app make their own row
 *   exist at once (the sign-up race).
 * - Its part of the reconcile repairs what webhooks missed.
 *
 * It gives the other features `public.users` through the ports they
 * declare: current recipients (onboarding), a user applied with the
 * webhooks' rules (the Stripe trial).
 */
import type { ClerkUser } from "../clerk/schemas.ts";
import { type Feature, type FeatureContext, stateOf } from "../feature/feature.ts";
import { userEvents } from "../inngest/events.ts";
import { groupValue } from "../settings.ts";
import { lazy } from "../util/lazy.ts";
import { createDeleteUserFunction } from "./delete_user.ts";
import type { MeSyncMemberships } from "./me_sync.ts";
import { createUsersReconcilePart } from "./reconcile_part.ts";
import { createSyncUserFunction } from "./sync_user.ts";
import { toUserRow } from "./user_row.ts";
import type { UsersStore } from "./users_store.ts";

/** What the users feature takes from the others. */
export interface UsersPorts {
  /** The memberships part of `/users/me/sync`; without it, memberships are not synced. */
  readonly memberships?: MeSyncMemberships;
}

/** The users feature, and what it gives the others. */
export interface UsersFeature extends Feature {
  /** `public.users`, built on first use. */
  readonly store: () => Promise<UsersStore>;
  /** Applies a Clerk user with the webhooks' rules. */
  readonly apply: (user: ClerkUser) => Promise<unknown>;
  /** Its part of the reconcile. */
  readonly reconcile: ReturnType<typeof createUsersReconcilePart>;
}

/** Builds the users feature. */
export function usersFeature(context: FeatureContext, ports: UsersPorts = {}): UsersFeature {
  const { settings, services, logger } = context;
  const store = lazy(async () => {
    const { createSupabaseUsersStore } = await import("./supabase_users_store.ts");
    return createSupabaseUsersStore(await services.supabase());
  });
  const deps = { users: store, logger };
  return {
    name: "users",
    state: stateOf(settings, ["database"]),
    events: userEvents,
    store,
    apply: async (user) => (await store()).upsert(toUserRow(user)),
    reconcile: createUsersReconcilePart({
      clerk: services.clerk,
      store: lazy(async () => {
        const { createSupabaseUsersReconcileStore } = await import(
          "./supabase_reconcile_store.ts"
        );
        return createSupabaseUsersReconcileStore(await services.supabase());
      }),
    }),
    functions: (client) => [
      createSyncUserFunction(client, deps),
      createDeleteUserFunction(client, deps),
    ],
    routes: [{
      path: "users/me/sync",
      methods: ["POST", "OPTIONS"],
      summary: "on-demand sync of the caller's own user, by their Clerk session token",
      needs: ["session", "clerkApi", "database"],
      load: async () => {
        // jose and the Backend API client load on the first call only.
        const { createMeSyncRoute } = await import("./me_sync.ts");
        return createMeSyncRoute({
          session: groupValue(settings.session),
          clerkApi: groupValue(settings.clerkApi),
          clerk: await services.clerk(),
          users: store,
          memberships: ports.memberships,
          logger,
          fetch: context.fetch,
        });
      },
    }],
  };
}
