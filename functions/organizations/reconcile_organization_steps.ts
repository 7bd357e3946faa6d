/**
 * The work of the organization steps of `reconcile-users-with-clerk`, apart
 * from Inngest, with the rules of the user steps (`reconcile_steps.ts`): a
 * transient Clerk failure after some work ends the step early with its
 * progress, so that a retry never repeats requests whose work is kept.
 *
 * - Pages of `GET /v1/organizations` and `GET /v1/organization_memberships`
 *   (`{data, total_count}`, 500 at a time, oldest first) are applied with
 *   one database call each, the next page requested while earlier ones are
 *   written.
 * - An organization the run did not list is tombstoned only after
 *   `GET /v1/organizations/{id}` answers 404; one Clerk still has is upserted.
 * - Memberships the run did not list are checked per organization, with one
 *   `GET /v1/organizations/{id}/memberships?user_id=…` for up to 50 of them:
 *   those it omits stop being live, and a 404 tombstones the organization
 *   (which ends all its memberships).
 *
 * Loaded when such a step first runs, not on the webhook path.
 */
import type { ClerkOrganizationsApi, ClerkPage, PageQuery } from "../clerk/organizations_api.ts";
import type { Logger } from "../util/log.ts";
import type { OrganizationsReconcileStore, OrgSyncKind } from "./reconcile_store.ts";
import {
  type MembershipRow,
  type OrganizationRow,
  toMembershipRow,
  toOrganizationRow,
} from "./rows.ts";
import {
  applyPagesFrom,
  inFlight,
  type SyncProgress,
  transient,
  why,
} from "../clerk/paged_sync.ts";

/** What every organization step of one run works with. */
export interface OrganizationsReconcileContext {
  readonly clerk: ClerkOrganizationsApi;
  readonly store: OrganizationsReconcileStore;
  readonly log: Logger;
  readonly runId: string;
  readonly dryRun: boolean;
  /** Rows per list request (at most 500). */
  readonly pageSize: number;
  readonly pagesPerStep: number;
  /** Organizations confirmed per step, one request each. */
  readonly confirmBatchSize: number;
}

/** Memberships of one organization checked with one request. */
export const USERS_PER_CHECK = 50;

/**
 * Lists up to `pagesPerStep` pages of `kind` from `offset` and applies each
 * with one database call. `next` is `null` once `total_count` is reached.
 */
export function syncOrganizationPagesFrom(
  ctx: OrganizationsReconcileContext,
  kind: OrgSyncKind,
  offset: number,
): Promise<SyncProgress> {
  return applyPagesFrom<OrganizationRow | MembershipRow>({
    offset,
    pageSize: ctx.pageSize,
    pagesPerStep: ctx.pagesPerStep,
    log: ctx.log,
    logFields: { run_id: ctx.runId, kind },
    applied: "Reconcile organizations applied",
    list: async (at) => {
      const query: PageQuery = { limit: ctx.pageSize, offset: at };
      const page: ClerkPage<OrganizationRow | MembershipRow> = kind === "organization"
        ? await ctx.clerk.listOrganizations(query).then((p) => ({
          data: p.data.map(toOrganizationRow),
          totalCount: p.totalCount,
        }))
        : await ctx.clerk.listAllMemberships(query).then((p) => ({
          data: p.data.map((m) => toMembershipRow(m)),
          totalCount: p.totalCount,
        }));
      return {
        rows: page.data,
        more: page.data.length === ctx.pageSize && at + page.data.length < page.totalCount,
      };
    },
    write: (at, rows) => ctx.store.applyPage(ctx.runId, kind, at, [...rows], ctx.dryRun),
  });
}

/**
 * Takes up to `confirmBatchSize` organizations the run did not list and
 * asks Clerk for each: a 404 tombstones it; one Clerk still has is applied
 * like a listed one. Returns how many were resolved; 0 when none is left.
 */
export async function confirmAbsentOrganizations(
  ctx: OrganizationsReconcileContext,
): Promise<number> {
  const ids = await ctx.store.absentOrganizations(ctx.runId, ctx.confirmBatchSize);
  const answers = await inFlight(ids, (id) => ctx.clerk.getOrganization(id));
  const found: OrganizationRow[] = [];
  const gone: string[] = [];
  const failures: unknown[] = [];
  answers.forEach((answer, i) => {
    if (answer.status === "rejected") failures.push(answer.reason);
    else if (answer.value) found.push(toOrganizationRow(answer.value));
    else gone.push(ids[i]);
  });
  settle(ctx, failures, found.length + gone.length);
  if (found.length + gone.length === 0) return 0;
  const counts = await ctx.store.resolveAbsentOrganizations(ctx.runId, found, gone, ctx.dryRun);
  ctx.log.info("Reconcile absent organizations confirmed", {
    run_id: ctx.runId,
    checked: found.length + gone.length,
    still_in_clerk: found.length,
    tombstoned: counts.tombstoned,
  });
  return found.length + gone.length;
}

/**
 * Takes the memberships of up to `confirmBatchSize` organizations that the
 * run did not list (up to {@link USERS_PER_CHECK} per organization) and
 * checks each organization with one request filtered by their users. Returns
 * how many memberships were resolved; 0 when none is left.
 */
export async function confirmAbsentMemberships(
  ctx: OrganizationsReconcileContext,
): Promise<number> {
  const groups = await ctx.store.absentMemberships(
    ctx.runId,
    ctx.confirmBatchSize,
    USERS_PER_CHECK,
  );
  const answers = await inFlight(
    groups,
    (group) =>
      ctx.clerk.listOrganizationMemberships(group.organization_id, {
        limit: USERS_PER_CHECK,
        offset: 0,
        userIds: [...new Set(group.memberships.map((m) => m.user_id))],
      }),
  );
  const found: MembershipRow[] = [];
  const gone: string[] = [];
  const goneOrganizations: string[] = [];
  const failures: unknown[] = [];
  let resolved = 0;
  answers.forEach((answer, i) => {
    const group = groups[i];
    if (answer.status === "rejected") return void failures.push(answer.reason);
    resolved += group.memberships.length;
    if (!answer.value) return void goneOrganizations.push(group.organization_id);
    const listed = new Map(answer.value.data.map((m) => [m.id, m]));
    for (const { id } of group.memberships) {
      const membership = listed.get(id);
      if (membership) found.push(toMembershipRow(membership));
      else gone.push(id);
    }
  });
  settle(ctx, failures, resolved);
  if (resolved === 0) return 0;
  const counts = await ctx.store.resolveAbsentMemberships(
    ctx.runId,
    found,
    gone,
    goneOrganizations,
    ctx.dryRun,
  );
  ctx.log.info("Reconcile absent memberships confirmed", {
    run_id: ctx.runId,
    checked: resolved,
    still_in_clerk: found.length,
    tombstoned: counts.tombstoned,
    organizations_gone: goneOrganizations.length,
  });
  return resolved;
}

/** Throws when nothing could be resolved or a failure is permanent; logs a pause otherwise. */
function settle(ctx: OrganizationsReconcileContext, failures: unknown[], resolved: number) {
  const permanent = failures.find((error) => !transient(error));
  if (permanent !== undefined) throw permanent;
  if (failures.length && resolved === 0) throw failures[0];
  if (failures.length) {
    ctx.log.warn("Reconcile confirmation paused", { run_id: ctx.runId, ...why(failures[0]) });
  }
}
