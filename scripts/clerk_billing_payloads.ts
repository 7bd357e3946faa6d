/**
 * Clerk Billing webhook payloads for local tools (`deno task webhook:send
 * --type subscriptionItem.active`) and tests, in the shape of real
 * deliveries: @clerk/backend's `Billing…WebhookEventJSON` types and the
 * examples of Clerk's webhook catalog, fields the schemas do not read
 * included. The payer carries an address and names, as Clerk's does, and
 * names the other kind of payer with `""`.
 *
 * Nothing here reads the environment or the network.
 */
import {
  BILLING_EVENT_TYPES,
  PAYMENT_ATTEMPT_EVENT_TYPES,
  SUBSCRIPTION_EVENT_TYPES,
} from "../functions/clerk_billing/events.ts";
import { clerkId } from "./clerk_ids.ts";

/** A Clerk Billing event type with a built-in payload. */
export type BillingEventType = typeof BILLING_EVENT_TYPES[number];

export { BILLING_EVENT_TYPES };

/** What a billing payload is about; every field has a default. */
export interface BillingPayloadOptions {
  /** The payer: a user id (`user_…`) or an organization id (`org_…`). Default: a new user. */
  readonly payerId?: string;
  /** `data.id`: the subscription, item or payment attempt. Default: a new id. */
  readonly id?: string;
  /** When Clerk changed it (`updated_at`, epoch ms). Default: now. */
  readonly at?: number;
  /** The item's plan slug. Default `pro`. */
  readonly planSlug?: string;
  /** The subscription's items (a subscription event embeds them). Default: one on `planSlug`. */
  readonly items?: readonly Record<string, unknown>[];
}

const DAY_MS = 24 * 60 * 60 * 1000;
const INSTANCE_ID = "ins_2hV8a0oFqPBNqi4WzVcvFIcdXpI";

/** A new Clerk-looking id with `prefix`, e.g. `csub_item_2x4…`. */
export const billingId = clerkId;

/** True when `type` is a Clerk Billing event type with a built-in payload. */
export function isBillingEventType(type: string): type is BillingEventType {
  return (BILLING_EVENT_TYPES as readonly string[]).includes(type);
}

/** The `data` of a Clerk Billing event of `type`. */
export function billingData(
  type: BillingEventType,
  options: BillingPayloadOptions = {},
): Record<string, unknown> {
  const at = options.at ?? Date.now();
  const payerId = options.payerId ?? billingId("user_");
  if ((SUBSCRIPTION_EVENT_TYPES as readonly string[]).includes(type)) {
    const pastDue = /past_?due$/i.test(type);
    return {
      object: "commerce_subscription",
      id: options.id ?? billingId("csub_"),
      instance_id: INSTANCE_ID,
      status: pastDue ? "past_due" : "active",
      active_at: at - DAY_MS,
      canceled_at: null,
      created_at: at - DAY_MS,
      ended_at: null,
      past_due_at: pastDue ? at : null,
      updated_at: at,
      latest_payment_id: billingId("cpa_"),
      payer_id: billingId("cpayer_"),
      payer: payer(payerId, at),
      payment_source_id: billingId("cps_"),
      items: options.items ??
        [{ ...item("active", options.planSlug ?? "pro", at), payer: null }],
    };
  }
  if ((PAYMENT_ATTEMPT_EVENT_TYPES as readonly string[]).includes(type)) {
    const paid = type === "paymentAttempt.updated";
    return {
      object: "commerce_payment_attempt",
      id: options.id ?? billingId("pa_"),
      instance_id: INSTANCE_ID,
      payment_id: billingId("cpa_"),
      statement_id: billingId("stmt_"),
      gateway_external_id: `pi_${billingId("").slice(0, 24)}`,
      status: paid ? "paid" : "pending",
      created_at: at - 60_000,
      updated_at: at,
      paid_at: paid ? at : null,
      failed_at: null,
      failed_reason: null,
      billing_date: at,
      charge_type: "recurring",
      payee: {
        id: billingId("cpayee_"),
        gateway_type: "stripe",
        gateway_external_id: "acct_1A2B3C4D5E6F7G8H",
        gateway_status: "active",
      },
      payer: payer(payerId, at),
      totals: {
        subtotal: money(2000),
        tax_total: money(200),
        grand_total: money(2200),
      },
      payment_source: {
        id: billingId("cps_"),
        gateway: "stripe",
        gateway_external_id: `pm_${billingId("").slice(0, 24)}`,
        payment_method: "card",
        status: "active",
        card_type: "visa",
        last4: "4242",
      },
      subscription_items: [item("active", options.planSlug ?? "pro", at)],
    };
  }
  const [, event] = type.split(".");
  const status = ITEM_STATUS[event] ?? "active";
  return {
    ...item(status, options.planSlug ?? "pro", at, options.id),
    is_free_trial: event === "freeTrialEnding",
    payer: payer(payerId, at),
  };
}

/** The status an item event's name implies. */
const ITEM_STATUS: Record<string, string> = {
  created: "incomplete",
  updated: "active",
  active: "active",
  canceled: "canceled",
  upcoming: "upcoming",
  ended: "ended",
  abandoned: "abandoned",
  incomplete: "incomplete",
  expired: "expired",
  pastDue: "past_due",
  past_due: "past_due",
  freeTrialEnding: "active",
};

function item(status: string, slug: string, at: number, id?: string): Record<string, unknown> {
  const periodStart = at - DAY_MS;
  return {
    object: "commerce_subscription_item",
    id: id ?? billingId("csub_item_"),
    instance_id: INSTANCE_ID,
    status,
    credit: {
      amount: money(0),
      cycle_days_remaining: 30,
      cycle_days_total: 30,
      cycle_remaining_percent: 1,
    },
    proration_date: new Date(periodStart).toISOString().slice(0, 10),
    plan_period: "month",
    period_start: periodStart,
    period_end: periodStart + 30 * DAY_MS,
    canceled_at: status === "canceled" ? at : null,
    past_due_at: status === "past_due" ? at : null,
    created_at: periodStart,
    updated_at: at,
    lifetime_paid: 2000,
    next_payment_amount: 2000,
    next_payment_date: periodStart + 30 * DAY_MS,
    amount: money(2000),
    plan: {
      id: `cplan_${slug.replace(/[^a-zA-Z0-9]/g, "")}`,
      instance_id: INSTANCE_ID,
      product_id: billingId("cprd_"),
      name: slug[0].toUpperCase() + slug.slice(1),
      slug,
      description: null,
      is_default: false,
      is_recurring: true,
      amount: 2000,
      period: "month",
      interval: 1,
      has_base_fee: true,
      currency: "USD",
      annual_monthly_amount: 1800,
      publicly_visible: true,
    },
    plan_id: `cplan_${slug.replace(/[^a-zA-Z0-9]/g, "")}`,
  };
}

/** Clerk's payer: the other kind's id is `""`, not absent. */
function payer(payerId: string, at: number): Record<string, unknown> {
  const organization = payerId.startsWith("org_");
  const tag = payerId.slice(-6).toLowerCase();
  return {
    object: "commerce_payer",
    id: billingId("cpayer_"),
    instance_id: INSTANCE_ID,
    user_id: organization ? "" : payerId,
    first_name: organization ? "" : "Ada",
    last_name: organization ? "" : "Lovelace",
    email: organization ? `billing.${tag}@example.com` : `ada.${tag}@example.com`,
    organization_id: organization ? payerId : "",
    organization_name: organization ? "Acme Inc" : "",
    image_url: "https://img.clerk.com/eyJ0eXBlIjoiZGVmYXVsdCJ9",
    created_at: at - 30 * DAY_MS,
    updated_at: at - 30 * DAY_MS,
  };
}

function money(amount: number) {
  return {
    amount,
    amount_formatted: `$${(amount / 100).toFixed(2)}`,
    currency: "USD",
    currency_symbol: "$",
  };
}
