/**
 * The organizations' part of `reconcile-users-with-clerk` (see
 * `../reconcile/reconcile_part.ts`), run after the users' part:
 *
 * 1. `sync-organizations-from-<offset>` and `sync-memberships-from-<offset>`
 *    page `GET /v1/organizations` and `GET /v1/organization_memberships`
 *    (10 pages of 500 per step) and apply each page in one SQL call, with
 *    the webhook path's rules; the ids go to `public.clerk_sync_org_seen`.
 * 2. `collect-absent-organizations`, then `confirm-absent-organizations-<n>`
 *    (25 lookups per step): tombstoned only after a 404.
 * 3. `collect-absent-memberships`, then `confirm-absent-memberships-<n>`
 *    (25 organizations per step, one request each): not live only after the
 *    per-organization check omits them, or the organization is gone.
 *
 * The same Clerk client, and so the same request budget, as the user steps.
 */
import type { ClerkOrganizationsApi } from "../clerk/organizations_api.ts";
import type { ReconcilePart } from "../reconcile/reconcile_part.ts";
import { collectThenConfirm, stepThroughPages } from "../inngest/step_loops.ts";
import { lazy } from "../util/lazy.ts";
import type { OrganizationsReconcileStore } from "./reconcile_store.ts";
import type { OrganizationsReconcileContext } from "./reconcile_organization_steps.ts";

const steps = lazy(() => import("./reconcile_organization_steps.ts"));

/** What the organization steps need from the reconcile's dependencies. */
export interface OrganizationsReconcileDeps {
  readonly clerk: () => Promise<ClerkOrganizationsApi>;
  readonly store: () => Promise<OrganizationsReconcileStore>;
}

/** The organizations' part of the reconcile. */
export function createOrganizationsReconcilePart(deps: OrganizationsReconcileDeps): ReconcilePart {
  return {
    name: "organizations",
    run: (guarded, run) => reconcileOrganizations(guarded, deps, run),
  };
}

async function reconcileOrganizations(
  guarded: Parameters<ReconcilePart["run"]>[0],
  deps: OrganizationsReconcileDeps,
  run: Parameters<ReconcilePart["run"]>[1],
): Promise<void> {
  const context = async (): Promise<OrganizationsReconcileContext> => ({
    ...run,
    clerk: await deps.clerk(),
    store: await deps.store(),
  });

  for (const kind of ["organization", "membership"] as const) {
    await stepThroughPages(
      guarded,
      `sync-${kind}s`,
      `Cannot reconcile ${kind}s`,
      async (from) => (await steps()).syncOrganizationPagesFrom(await context(), kind, from),
    );
  }
  await collectThenConfirm(guarded, {
    id: "collect-absent-organizations",
    action: "Cannot collect the organizations Clerk did not list",
    work: async () => (await deps.store()).collectAbsent(run.runId, "organization"),
  }, {
    id: "confirm-absent-organizations",
    action: "Cannot confirm absent organizations with Clerk",
    work: async () => (await steps()).confirmAbsentOrganizations(await context()),
  });
  await collectThenConfirm(guarded, {
    id: "collect-absent-memberships",
    action: "Cannot collect the memberships Clerk did not list",
    work: async () => (await deps.store()).collectAbsent(run.runId, "membership"),
  }, {
    id: "confirm-absent-memberships",
    action: "Cannot confirm absent memberships with Clerk",
    work: async () => (await steps()).confirmAbsentMemberships(await context()),
  });
}
