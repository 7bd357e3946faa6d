/**
 * Zod schemas for Clerk Billing's payloads, as webhooks and the Backend
 * API carry them: subscriptions, subscription items, payment attempts and
 * their payer (@clerk/backend's `BillingSubscriptionWebhookEventJSON`,
 * `BillingSubscriptionItemWebhookEventJSON`,
 * `BillingPaymentAttemptWebhookEventJSON`, `BillingPayerJSON`, and the
 * Backend API's `CommerceSubscription` and `CommerceSubscriptionItem`).
 *
 * Loose, like every Clerk schema here, and lenient where real payloads
 * differ from the types (docs/clerk-billing.md#what-clerk-sends):
 *
 * - the payer names its user or organization, and sends the other id as
 *   `""` rather than leaving it out: an empty id is no id;
 * - an item's period is `plan_period` in the SDK's type and `interval` in
 *   Clerk's webhook catalog; `updated_at`, `canceled_at` and the plan may
 *   be missing or null;
 * - statuses are snake_case (`past_due`), and were typed camelCase
 *   (`pastDue`) in places: both are accepted and normalized by the rows.
 */
import { z } from "zod";

const epochMs = z.number().int().nonnegative();
const optionalMs = epochMs.nullish();
const optionalText = z.string().nullish();

/** A billing status: `active`, `past_due` (or `pastDue`), `canceled`, ... */
export const billingStatusSchema = z.string().regex(
  /^[a-z][a-zA-Z_]*$/,
  "must be a status such as active or past_due",
);

/** The one id a payer names: its user's or its organization's. */
export type PayerId =
  | { readonly userId: string; readonly organizationId?: undefined }
  | { readonly organizationId: string; readonly userId?: undefined };

/**
 * The payer's id, when exactly one of `user_id` and `organization_id` is
 * set (an empty string is not set); otherwise undefined.
 */
export function payerIdOf(
  payer: { user_id?: string | null; organization_id?: string | null } | null | undefined,
): PayerId | undefined {
  const userId = payer?.user_id || undefined;
  const organizationId = payer?.organization_id || undefined;
  if (userId && !organizationId) return { userId };
  if (organizationId && !userId) return { organizationId };
  return undefined;
}

/**
 * `BillingPayerJSON`: `id` is Clerk's own `cpayer_…`; `user_id` or
 * `organization_id` names the payer. Email, names and image are never read.
 */
export const billingPayerSchema = z.looseObject({
  id: optionalText,
  user_id: optionalText,
  organization_id: optionalText,
}).refine((payer) => payerIdOf(payer) !== undefined, {
  message: "must name exactly one of user_id and organization_id",
});

/** A payer, as far as this project reads it. */
export type BillingPayer = z.infer<typeof billingPayerSchema>;

/** The plan an item is on: its id and slug (the slug is what `has_plan` matches). */
export const billingPlanSchema = z.looseObject({
  id: z.string().min(1),
  slug: optionalText,
});

/**
 * A subscription item, standalone or embedded: in a subscription event
 * (`items`, payer null), in the Backend API's subscription
 * (`subscription_items`) and in its list of every item.
 */
export const billingSubscriptionItemSchema = z.looseObject({
  id: z.string().min(1),
  status: billingStatusSchema,
  plan: billingPlanSchema.nullish(),
  plan_id: optionalText,
  plan_period: optionalText,
  interval: optionalText,
  is_free_trial: z.boolean().nullish(),
  period_start: optionalMs,
  period_end: optionalMs,
  canceled_at: optionalMs,
  updated_at: optionalMs,
  payer: z.unknown().optional(),
});

/** A subscription item, as far as this project reads it. */
export type BillingSubscriptionItem = z.infer<typeof billingSubscriptionItemSchema>;

/** `data` of `subscriptionItem.*`: an item that names its payer. */
export const billingSubscriptionItemEventSchema = billingSubscriptionItemSchema.extend({
  payer: billingPayerSchema,
});

/** The data of a `subscriptionItem.*` event. */
export type BillingSubscriptionItemEvent = z.infer<typeof billingSubscriptionItemEventSchema>;

/** The subscription fields both webhooks and the Backend API carry. */
const subscriptionShape = {
  id: z.string().min(1),
  status: billingStatusSchema,
  active_at: optionalMs,
  past_due_at: optionalMs,
  updated_at: optionalMs,
};

/** `data` of `subscription.*`: the subscription, its payer and its `items`. */
export const billingSubscriptionEventSchema = z.looseObject({
  ...subscriptionShape,
  payer: billingPayerSchema,
  items: z.array(billingSubscriptionItemSchema).nullish(),
});

/** The data of a `subscription.*` event. */
export type BillingSubscriptionEvent = z.infer<typeof billingSubscriptionEventSchema>;

/**
 * The Backend API's subscription (`GET /v1/users/{id}/billing/subscription`):
 * no payer object (the path names it), items in `subscription_items`.
 */
export const billingSubscriptionSchema = z.looseObject({
  ...subscriptionShape,
  subscription_items: z.array(billingSubscriptionItemSchema).nullish(),
});

/** A subscription as the Backend API answers it. */
export type BillingSubscription = z.infer<typeof billingSubscriptionSchema>;

const moneySchema = z.looseObject({
  amount: z.number().int(),
  currency: z.string().min(1),
});

/** `data` of `paymentAttempt.*`. */
export const billingPaymentAttemptEventSchema = z.looseObject({
  id: z.string().min(1),
  status: billingStatusSchema,
  charge_type: optionalText,
  payer: billingPayerSchema,
  totals: z.looseObject({ grand_total: moneySchema.nullish() }).nullish(),
  failed_reason: z.looseObject({ code: optionalText, decline_code: optionalText }).nullish(),
  updated_at: optionalMs,
});

/** The data of a `paymentAttempt.*` event. */
export type BillingPaymentAttemptEvent = z.infer<typeof billingPaymentAttemptEventSchema>;
