/**
 * `stripe-customer-sweep` (hourly): a Stripe customer must not outlive its
 * user, and `delete-stripe-customer` runs on `clerk/user.deleted` only. When
 * that webhook is lost, the reconcile (or /users/me/sync) still makes the
 * user a tombstone; this sweep finds the live billing rows of tombstoned
 * users and asks `delete-stripe-customer` to delete each customer.
 */
import type { Inngest } from "inngest";
import { databaseFailure } from "../inngest/step_errors.ts";
import { stripeCustomerDeleteRequested } from "./events.ts";
import type { StripeWorkflowDeps } from "./stripe_steps.ts";

/** The function id. */
export const STRIPE_CUSTOMER_SWEEP_FUNCTION_ID = "stripe-customer-sweep";

/** Hourly, off the hour and off the newsletter's sweep. */
export const STRIPE_CUSTOMER_SWEEP_CRON = "TZ=UTC 41 * * * *";

/** Creates `stripe-customer-sweep` on `client`. */
export function createStripeCustomerSweepFunction(
  client: Inngest,
  deps: Pick<StripeWorkflowDeps, "billing">,
) {
  return client.createFunction(
    {
      id: STRIPE_CUSTOMER_SWEEP_FUNCTION_ID,
      name: "Stripe customers of deleted users",
      triggers: [{ cron: STRIPE_CUSTOMER_SWEEP_CRON }],
      singleton: { mode: "skip" },
      retries: 3,
    },
    async ({ step }) => {
      const ids = await step.run("find-orphans", async () => {
        try {
          return await (await deps.billing()).customersOfDeletedUsers(500);
        } catch (error) {
          throw databaseFailure("Cannot list the Stripe customers of deleted users", error);
        }
      });
      if (ids.length) {
        await step.sendEvent(
          "nudge",
          ids.map((id) => stripeCustomerDeleteRequested.create({ id, deleted: true })),
        );
      }
      return { orphans: ids.length };
    },
  );
}
