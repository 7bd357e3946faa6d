/**
 * The work of the Clerk Billing steps of `reconcile-users-with-clerk`,
 * apart from Inngest, with the rules of the other parts: a transient Clerk
 * failure after some work ends the step early with its progress, so that a
 * retry never repeats requests whose work is kept.
 *
 * - Pages of `GET /v1/billing/subscription_items` (500 at a time, newest
 *   first: an item created during the run pushes the rest one place down,
 *   so a page may repeat one, never skip one) are applied with one database
 *   call each. An item that names no payer cannot be placed: it is counted
 *   and left to the webhooks.
 * - A payer whose items could still grant a plan but were not listed is
 *   asked for its subscription, one request each (its items then follow
 *   the webhook path's rules; a 404 means Clerk has none).
 *
 * Loaded when such a step first runs, not on the webhook path.
 */
import type { ClerkBillingApi } from "../clerk/billing_api.ts";
import { ClerkBillingUnavailableError } from "../clerk/billing_api.ts";
import {
  applyPagesFrom,
  inFlight,
  type SyncProgress,
  transient,
  why,
} from "../clerk/paged_sync.ts";
import type { Logger } from "../util/log.ts";
import type { BillingReconcileStore } from "./reconcile_store.ts";
import {
  payerOfId,
  subscriptionAnswerBatch,
  type SubscriptionItemRow,
  type SubscriptionRow,
  toSubscriptionItemRow,
} from "./rows.ts";

/** What every billing step of one run works with. */
export interface BillingReconcileContext {
  readonly clerk: ClerkBillingApi;
  readonly store: BillingReconcileStore;
  readonly log: Logger;
  readonly runId: string;
  readonly dryRun: boolean;
  /** Items per list request (at most 500). */
  readonly pageSize: number;
  readonly pagesPerStep: number;
  /** Payers asked per step, one request each. */
  readonly confirmBatchSize: number;
}

/** Where the listing goes on, and what it could not place. */
export interface BillingSyncProgress extends SyncProgress {
  /** Items listed without a payer, which the mirror cannot place. */
  readonly unplaced: number;
  /** Why the listing was skipped: Clerk Billing is not enabled. */
  readonly unavailable?: string;
}

/**
 * A listed item without `updated_at` is versioned at the epoch: it fills a
 * row that is missing, and never outranks a version Clerk dated.
 */
const UNDATED = 0;

/**
 * Lists up to `pagesPerStep` pages of items from `offset` and applies each
 * with one database call. `next` is `null` once Clerk has no more; at
 * offset 0, an instance without Clerk Billing ends the listing at once.
 */
export async function syncBillingItemsFrom(
  ctx: BillingReconcileContext,
  offset: number,
): Promise<BillingSyncProgress> {
  let unplaced = 0;
  try {
    const progress = await applyPagesFrom<SubscriptionItemRow>({
      offset,
      pageSize: ctx.pageSize,
      pagesPerStep: ctx.pagesPerStep,
      log: ctx.log,
      logFields: { run_id: ctx.runId, kind: "billing_item" },
      applied: "Reconcile billing items applied",
      list: async (at) => {
        const page = await ctx.clerk.listSubscriptionItems({ limit: ctx.pageSize, offset: at });
        const rows = page.data.flatMap(({ item, payer }) => {
          if (payer) return [toSubscriptionItemRow(item, payer, UNDATED)];
          unplaced++;
          return [];
        });
        return {
          rows,
          more: page.data.length === ctx.pageSize && at + page.data.length < page.totalCount,
        };
      },
      write: (at, rows) => ctx.store.applyPage(ctx.runId, at, rows, ctx.dryRun),
    });
    if (unplaced) {
      ctx.log.warn("Reconcile billing items without a payer", {
        run_id: ctx.runId,
        offset,
        unplaced,
      });
    }
    return { ...progress, unplaced };
  } catch (error) {
    if (offset !== 0 || !(error instanceof ClerkBillingUnavailableError)) throw error;
    ctx.log.info("Reconcile billing skipped", { run_id: ctx.runId, ...why(error) });
    return { listed: 0, next: null, unplaced: 0, unavailable: error.message };
  }
}

/**
 * Takes up to `confirmBatchSize` payers whose items the listing did not
 * show and asks Clerk for each one's subscription. Returns how many were
 * resolved; 0 when none is left.
 */
export async function confirmAbsentPayers(ctx: BillingReconcileContext): Promise<number> {
  const payers = await ctx.store.absentPayers(ctx.runId, ctx.confirmBatchSize);
  const answers = await inFlight(payers, (id) => ctx.clerk.getPayerSubscription(payerOfId(id)));
  const resolved: string[] = [];
  const subscriptions: SubscriptionRow[] = [];
  const items: SubscriptionItemRow[] = [];
  const failures: unknown[] = [];
  answers.forEach((answer, i) => {
    if (answer.status === "rejected") return void failures.push(answer.reason);
    resolved.push(payers[i]);
    if (!answer.value) return;
    const rows = subscriptionAnswerBatch(answer.value, payerOfId(payers[i]), UNDATED);
    subscriptions.push(...rows.subscriptions);
    items.push(...rows.items);
  });
  const permanent = failures.find((error) => !transient(error));
  if (permanent !== undefined) throw permanent;
  if (failures.length && resolved.length === 0) throw failures[0];
  if (failures.length) {
    ctx.log.warn("Reconcile confirmation paused", { run_id: ctx.runId, ...why(failures[0]) });
  }
  if (resolved.length === 0) return 0;
  const counts = await ctx.store.resolveAbsent(
    ctx.runId,
    resolved,
    { subscriptions, items },
    ctx.dryRun,
  );
  ctx.log.info("Reconcile absent billing payers confirmed", {
    run_id: ctx.runId,
    checked: resolved.length,
    items: counts.listed,
    inserted: counts.inserted,
    updated: counts.updated,
  });
  return resolved.length;
}
