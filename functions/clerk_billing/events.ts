/**
 * The Clerk Billing events, declared once: the webhook validates the data
 * of each with its schema (the feature lists them in its `events`), and the
 * workflows trigger on their families with a wildcard (`clerk/subscriptionItem.*`),
 * so that every event of a family reaches them, including both spellings of
 * the past-due events and any Clerk adds later.
 *
 * @clerk/backend typed the past-due events `subscription.past_due` and
 * `subscriptionItem.past_due` until September 2025 (clerk/javascript#6687);
 * Clerk's catalog says `pastDue`. Both are declared.
 */
import type { z } from "zod";
import type { ConsumedEvent } from "../feature/feature.ts";
import {
  billingPaymentAttemptEventSchema,
  billingSubscriptionEventSchema,
  billingSubscriptionItemEventSchema,
} from "../clerk/billing_schemas.ts";

/** The subscription events: `subscription.created`, `.updated`, `.active`, `.pastDue`. */
export const SUBSCRIPTION_EVENT_TYPES = [
  "subscription.created",
  "subscription.updated",
  "subscription.active",
  "subscription.pastDue",
  "subscription.past_due",
] as const;

/** The subscription item events. */
export const SUBSCRIPTION_ITEM_EVENT_TYPES = [
  "subscriptionItem.created",
  "subscriptionItem.updated",
  "subscriptionItem.active",
  "subscriptionItem.canceled",
  "subscriptionItem.upcoming",
  "subscriptionItem.ended",
  "subscriptionItem.abandoned",
  "subscriptionItem.incomplete",
  "subscriptionItem.expired",
  "subscriptionItem.pastDue",
  "subscriptionItem.past_due",
  "subscriptionItem.freeTrialEnding",
] as const;

/** The payment attempt events. */
export const PAYMENT_ATTEMPT_EVENT_TYPES = [
  "paymentAttempt.created",
  "paymentAttempt.updated",
] as const;

/** Every Clerk Billing event type this feature reads. */
export const BILLING_EVENT_TYPES = [
  ...SUBSCRIPTION_EVENT_TYPES,
  ...SUBSCRIPTION_ITEM_EVENT_TYPES,
  ...PAYMENT_ATTEMPT_EVENT_TYPES,
] as const;

/** The trigger of each workflow: one wildcard per family. */
export const SUBSCRIPTION_TRIGGER = "clerk/subscription.*";
export const SUBSCRIPTION_ITEM_TRIGGER = "clerk/subscriptionItem.*";
export const PAYMENT_ATTEMPT_TRIGGER = "clerk/paymentAttempt.*";

function declare(types: readonly string[], schema: z.ZodType): ConsumedEvent[] {
  return types.map((type) => ({ name: `clerk/${type}`, schema }));
}

/** Every billing event, with the schema the webhook validates its data with. */
export const billingEvents: readonly ConsumedEvent[] = [
  ...declare(SUBSCRIPTION_EVENT_TYPES, billingSubscriptionEventSchema),
  ...declare(SUBSCRIPTION_ITEM_EVENT_TYPES, billingSubscriptionItemEventSchema),
  ...declare(PAYMENT_ATTEMPT_EVENT_TYPES, billingPaymentAttemptEventSchema),
];
