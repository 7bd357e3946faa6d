/**
 * Maps Clerk Billing's payloads to rows of `public.billing_subscriptions`,
 * `public.billing_subscription_items` and `public.billing_payment_attempts`.
 *
 * Only what the contract stores: the payer's id (one column, the user's or
 * the organization's), never its email, names or image; Clerk's times as ISO
 * 8601; statuses in snake_case (`pastDue` becomes `past_due`).
 *
 * Every row carries `clerk_updated_at`, the version that orders it: Clerk's
 * `updated_at`, or, when the payload has none, the `fallback` the caller
 * gives (the event's `ts`, the envelope's timestamp: Clerk's clock, never
 * ours).
 */
import {
  type BillingPaymentAttemptEvent,
  type BillingSubscription,
  type BillingSubscriptionEvent,
  type BillingSubscriptionItem,
  type PayerId,
  payerIdOf,
} from "../clerk/billing_schemas.ts";

/** The payer columns: exactly one is set. */
export interface PayerColumns {
  readonly payer_user_id: string | null;
  readonly payer_organization_id: string | null;
}

/** A row of `public.billing_subscriptions`. */
export interface SubscriptionRow extends PayerColumns {
  readonly id: string;
  readonly status: string;
  readonly active_at: string | null;
  readonly past_due_at: string | null;
  readonly clerk_updated_at: string;
}

/** A row of `public.billing_subscription_items`. */
export interface SubscriptionItemRow extends PayerColumns {
  readonly id: string;
  readonly plan_id: string | null;
  readonly plan_slug: string | null;
  readonly plan_period: string | null;
  readonly status: string;
  readonly is_free_trial: boolean;
  readonly period_start: string | null;
  readonly period_end: string | null;
  readonly canceled_at: string | null;
  readonly clerk_updated_at: string;
}

/** A row of `public.billing_payment_attempts`. */
export interface PaymentAttemptRow extends PayerColumns {
  readonly id: string;
  readonly status: string;
  readonly charge_type: string | null;
  readonly amount: number | null;
  readonly currency: string | null;
  readonly failed_reason: { code: string | null; decline_code: string | null } | null;
  readonly clerk_updated_at: string;
}

/** What one event (or one answer of the Backend API) writes, in one call. */
export interface BillingBatch {
  readonly subscriptions: readonly SubscriptionRow[];
  readonly items: readonly SubscriptionItemRow[];
  readonly paymentAttempts: readonly PaymentAttemptRow[];
}

/** Clerk's status in the stored spelling: `pastDue` is `past_due`. */
export function storedStatus(status: string): string {
  return status.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}

/** The payer columns of `payer`; throws a TypeError when it names none or both. */
export function payerColumns(payer: PayerId | undefined): PayerColumns {
  if (payer?.userId) return { payer_user_id: payer.userId, payer_organization_id: null };
  if (payer?.organizationId) {
    return { payer_user_id: null, payer_organization_id: payer.organizationId };
  }
  throw new TypeError(
    "Cannot map a Clerk billing payload: its payer names no user or organization",
  );
}

/** The payer of a user or organization id (`org_…` is an organization). */
export function payerOfId(id: string): PayerId {
  return id.startsWith("org_") ? { organizationId: id } : { userId: id };
}

/** The subscription's row; `fallback` (epoch ms) stands in for a missing `updated_at`. */
export function toSubscriptionRow(
  subscription: BillingSubscription | BillingSubscriptionEvent,
  payer: PayerId,
  fallback: number,
): SubscriptionRow {
  return {
    id: subscription.id,
    ...payerColumns(payer),
    status: storedStatus(subscription.status),
    active_at: iso(subscription.active_at),
    past_due_at: iso(subscription.past_due_at),
    clerk_updated_at: version(subscription.updated_at, fallback),
  };
}

/** The item's row, for `payer` (its own, or its subscription's). */
export function toSubscriptionItemRow(
  item: BillingSubscriptionItem,
  payer: PayerId,
  fallback: number,
): SubscriptionItemRow {
  return {
    id: item.id,
    ...payerColumns(payer),
    plan_id: item.plan?.id ?? item.plan_id ?? null,
    plan_slug: item.plan?.slug ?? null,
    plan_period: item.plan_period ?? item.interval ?? null,
    status: storedStatus(item.status),
    is_free_trial: item.is_free_trial ?? false,
    period_start: iso(item.period_start),
    period_end: iso(item.period_end),
    canceled_at: iso(item.canceled_at),
    clerk_updated_at: version(item.updated_at, fallback),
  };
}

/** The payment attempt's row: the amount is `totals.grand_total`, tax included. */
export function toPaymentAttemptRow(
  attempt: BillingPaymentAttemptEvent,
  fallback: number,
): PaymentAttemptRow {
  const total = attempt.totals?.grand_total;
  const reason = attempt.failed_reason;
  return {
    id: attempt.id,
    ...payerColumns(payerIdOf(attempt.payer)),
    status: storedStatus(attempt.status),
    charge_type: attempt.charge_type ?? null,
    amount: total?.amount ?? null,
    currency: total?.currency ?? null,
    failed_reason: reason
      ? { code: reason.code ?? null, decline_code: reason.decline_code ?? null }
      : null,
    clerk_updated_at: version(attempt.updated_at, fallback),
  };
}

/** The batch of a `subscription.*` event: the subscription and the items it embeds. */
export function subscriptionEventBatch(
  subscription: BillingSubscriptionEvent,
  fallback: number,
): BillingBatch {
  const payer = payerIdOf(subscription.payer)!;
  return {
    subscriptions: [toSubscriptionRow(subscription, payer, fallback)],
    items: (subscription.items ?? []).map((item) => toSubscriptionItemRow(item, payer, fallback)),
    paymentAttempts: [],
  };
}

/** The batch of the Backend API's subscription of `payer`, listed at `listedAt`. */
export function subscriptionAnswerBatch(
  subscription: BillingSubscription,
  payer: PayerId,
  listedAt: number,
): BillingBatch {
  return {
    subscriptions: [toSubscriptionRow(subscription, payer, listedAt)],
    items: (subscription.subscription_items ?? []).map((item) =>
      toSubscriptionItemRow(item, payer, listedAt)
    ),
    paymentAttempts: [],
  };
}

function iso(ms: number | null | undefined): string | null {
  return ms === null || ms === undefined ? null : new Date(ms).toISOString();
}

function version(updatedAt: number | null | undefined, fallback: number): string {
  return new Date(updatedAt ?? fallback).toISOString();
}
