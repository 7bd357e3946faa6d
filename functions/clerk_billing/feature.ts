/**
 * Clerk Billing: subscriptions, plan items and payment attempts mirrored
 * into `public.billing_subscriptions`, `public.billing_subscription_items`
 * and `public.billing_payment_attempts` (newest `updated_at` wins in any
 * order), readable under row level security by their payer, with
 * `public.has_plan(slug)` for policies (the Clerk Billing migration).
 *
 * Always on, like organizations: it has no settings of its own and acts
 * only when Clerk sends billing events, so an app without Clerk Billing
 * never runs it. An off switch would only be a way to drop events. It sends
 * no email: Clerk sends its own billing emails, or hands them over as
 * `email.created` (the auth emails feature).
 *
 * Besides its three workflows it fills a part of the reconcile.
 */
import { type Feature, type FeatureContext, stateOf } from "../feature/feature.ts";
import { lazy } from "../util/lazy.ts";
import { billingEvents } from "./events.ts";
import { createBillingReconcilePart } from "./reconcile_billing.ts";
import { createBillingFunctions } from "./sync_billing.ts";

/** The Clerk Billing feature, and what it gives the others. */
export interface ClerkBillingFeature extends Feature {
  /** Its part of the reconcile. */
  readonly reconcile: ReturnType<typeof createBillingReconcilePart>;
}

/** Builds the Clerk Billing feature. */
export function clerkBillingFeature(context: FeatureContext): ClerkBillingFeature {
  const { settings, services, logger } = context;
  const store = lazy(async () => {
    const { createSupabaseBillingStore } = await import("./supabase_store.ts");
    return createSupabaseBillingStore(await services.supabase());
  });
  return {
    name: "clerk_billing",
    state: stateOf(settings, ["database"]),
    events: billingEvents,
    reconcile: createBillingReconcilePart({
      clerk: services.clerk,
      store: lazy(async () => {
        const { createSupabaseBillingReconcileStore } = await import(
          "./supabase_reconcile_store.ts"
        );
        return createSupabaseBillingReconcileStore(await services.supabase());
      }),
    }),
    functions: (client) => createBillingFunctions(client, { store, logger }),
  };
}
