/**
 * The Stripe trial, wired: the billing store, the Stripe client and the
 * three Inngest functions, built only while the feature is on (both
 * `STRIPE_SECRET_KEY` and `STRIPE_TRIAL_PRICE_ID` set and valid). The store
 * and the client load on first use, like every other service.
 */
import type { Inngest, InngestFunction } from "inngest";
import type { AppServices } from "../app/services.ts";
import type { Settings } from "../settings.ts";
import { lazy } from "../util/lazy.ts";
import type { Logger } from "../util/log.ts";
import { createDeleteStripeCustomerFunction } from "./delete_stripe_customer.ts";
import { createStartStripeTrialFunction } from "./start_stripe_trial.ts";
import { createUpdateStripeCustomerFunction } from "./update_stripe_customer.ts";
import type { BillingStore } from "./billing_store.ts";

/** The Stripe trial's parts the app registers and shares. */
export interface StripeTrial {
  /** The billing rows, for the trial-offer email to tell a running trial. */
  readonly billing: () => Promise<BillingStore>;
  /** `start-stripe-trial`, `update-stripe-customer` and `delete-stripe-customer`. */
  functions(client: Inngest): InngestFunction.Any[];
}

/** The Stripe trial, or `undefined` while the feature is off or invalid. */
export function stripeTrial(
  settings: Settings,
  services: Pick<AppServices, "supabase" | "users">,
  logger: Logger,
  fetchImpl?: typeof fetch,
): StripeTrial | undefined {
  if (!settings.stripe.ok || !settings.stripe.value) return undefined;
  const billing = lazy(async () => {
    const { createSupabaseBillingStore } = await import("./supabase_billing_store.ts");
    return createSupabaseBillingStore(await services.supabase());
  });
  const stripeSettings = settings.stripe.value;
  const deps = {
    // The SDK loads here, on the first Stripe step: never on the webhook path.
    stripe: lazy(async () => {
      const { createStripeBilling } = await import("./stripe_sdk.ts");
      return createStripeBilling(stripeSettings, fetchImpl);
    }),
    billing,
    users: services.users,
    logger,
  };
  return {
    billing,
    functions: (client) => [
      createStartStripeTrialFunction(client, deps),
      createUpdateStripeCustomerFunction(client, deps),
      createDeleteStripeCustomerFunction(client, deps),
    ],
  };
}
