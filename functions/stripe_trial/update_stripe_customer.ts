/**
 * `update-stripe-customer` (on `clerk/user.updated`): gives the user's Stripe
 * customer their new address and name. The newest Clerk `updated_at` wins
 * (an older event is never sent), and a deleted user's customer is never
 * updated.
 *
 * A change that arrives before start-stripe-trial has recorded the customer
 * is applied to `public.users` here (the same newest-wins write that
 * sync-user-from-clerk makes), where start-stripe-trial's last step reads
 * it. See `functions/stripe_trial/ARCHITECTURE.md`.
 */
import type { Inngest } from "inngest";
import { customerName, customerVersionKey } from "./stripe_client.ts";
import { clerkUserSchema } from "../clerk/schemas.ts";
import { userUpdated } from "../inngest/events.ts";
import { primaryEmail } from "../clerk/primary_email.ts";
import { parseInput } from "../inngest/step_errors.ts";
import {
  isNewer,
  STRIPE_RETRIES,
  STRIPE_USER_CONCURRENCY,
  stripeStep,
  type StripeWorkflowDeps,
} from "./stripe_steps.ts";

/** The function id. */
export const UPDATE_STRIPE_CUSTOMER_FUNCTION_ID = "update-stripe-customer";

/** Creates `update-stripe-customer` on `client`. */
export function createUpdateStripeCustomerFunction(client: Inngest, deps: StripeWorkflowDeps) {
  return client.createFunction(
    {
      id: UPDATE_STRIPE_CUSTOMER_FUNCTION_ID,
      name: "Update Stripe customer",
      triggers: [userUpdated],
      concurrency: [STRIPE_USER_CONCURRENCY],
      retries: STRIPE_RETRIES,
    },
    async ({ event, step }) => {
      const user = parseInput(clerkUserSchema, event.data, "Cannot update Stripe customer");
      const version = new Date(user.updated_at).toISOString();
      const updated = await step.run("update-customer", () =>
        stripeStep(
          deps.logger,
          "Stripe customer updated",
          { user_id: user.id, event: event.name, event_id: event.id },
          `Cannot update Stripe customer of user "${user.id}"`,
          async () => {
            await deps.users.apply(user);
            const billing = await deps.billing();
            const state = await billing.state(user.id);
            if (state.deleted) return { outcome: "user_deleted" };
            if (!state.stripe_customer_id) return { outcome: "no_customer" };
            if (!isNewer(version, state.customer_version)) return { outcome: "stale" };
            const answer = await (await deps.stripe()).updateCustomer(state.stripe_customer_id, {
              email: primaryEmail(user),
              name: customerName(user.first_name, user.last_name),
            }, customerVersionKey(user.id, version));
            if (answer === "missing") return { outcome: "missing" };
            return { outcome: await billing.recordCustomerVersion(user.id, version) };
          },
        ));
      return { userId: user.id, outcome: updated.outcome };
    },
  );
}
