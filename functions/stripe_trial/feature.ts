/**
 * The Stripe trial, an optional feature: on while `STRIPE_SECRET_KEY` and
 * `STRIPE_TRIAL_PRICE_ID` are both set and valid. `start-stripe-trial`
 * creates one customer and one trial subscription per new user;
 * `update-stripe-customer` follows address and name changes;
 * `delete-stripe-customer` deletes the customer of a deleted user, whatever
 * order the events run in (ARCHITECTURE.md).
 *
 * The store and the Stripe SDK load on the first Stripe step, never on the
 * webhook path. It fills the onboarding's port for running trials, so that
 * the trial offer does not offer a trial that is already running.
 */
import { type Feature, type FeatureContext } from "../feature/feature.ts";
import { describeFeature } from "../settings/features.ts";
import { lazy } from "../util/lazy.ts";
import { createStripeCustomerSweepFunction } from "./customer_sweep.ts";
import { createDeleteStripeCustomerFunction } from "./delete_stripe_customer.ts";
import { createStartStripeTrialFunction } from "./start_stripe_trial.ts";
import type { UserMirror } from "./stripe_steps.ts";
import { createUpdateStripeCustomerFunction } from "./update_stripe_customer.ts";

/** What the Stripe trial takes from the other features. */
export interface StripeTrialPorts {
  /** `public.users` (the users feature). */
  readonly users: UserMirror;
}

/** The Stripe trial, and what it gives the others. */
export interface StripeTrialFeature extends Feature {
  /** Running trials; absent while the feature is off. */
  readonly trials?: {
    /** When the user's trial ends (ISO 8601), while one is running. */
    runningTrialEnd(userId: string): Promise<string | undefined>;
  };
}

/** Builds the Stripe trial. */
export function stripeTrialFeature(
  context: FeatureContext,
  ports: StripeTrialPorts,
): StripeTrialFeature {
  const { settings, services, logger } = context;
  const feature = {
    name: "stripe_trial",
    optional: true,
    state: describeFeature(
      settings.stripe,
      "STRIPE_SECRET_KEY and STRIPE_TRIAL_PRICE_ID are not set",
    ),
  };
  const stripeSettings = settings.stripe.ok ? settings.stripe.value : undefined;
  if (!stripeSettings) return feature;

  const billing = lazy(async () => {
    const { createSupabaseBillingStore } = await import("./supabase_billing_store.ts");
    return createSupabaseBillingStore(await services.supabase());
  });
  const deps = {
    // The SDK loads here, on the first Stripe step: never on the webhook path.
    stripe: lazy(async () => {
      const { createStripeBilling } = await import("./stripe_sdk.ts");
      return createStripeBilling(stripeSettings, context.fetch);
    }),
    billing,
    users: ports.users,
    logger,
  };
  return {
    ...feature,
    trials: {
      async runningTrialEnd(userId) {
        const state = await (await billing()).state(userId);
        const endsAt = state.trial_ends_at;
        if (state.deleted || !state.stripe_subscription_id || !endsAt) return undefined;
        return Date.parse(endsAt) > Date.now() ? new Date(endsAt).toISOString() : undefined;
      },
    },
    functions: (client) => [
      createStartStripeTrialFunction(client, deps),
      createUpdateStripeCustomerFunction(client, deps),
      createDeleteStripeCustomerFunction(client, deps),
      createStripeCustomerSweepFunction(client, deps),
    ],
  };
}
