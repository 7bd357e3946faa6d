/**
 * `delete-stripe-customer` (on `clerk/user.deleted`): tombstones the user's
 * billing row first, then deletes their Stripe customer (which cancels its
 * subscriptions). The row keeps its Stripe ids and gains `deleted_at`.
 *
 * The tombstone comes first so that a start-stripe-trial step that runs
 * after it sends nothing to Stripe, and one that created a customer before
 * it, but recorded it after, deletes that customer itself. See
 * `functions/stripe_trial/ARCHITECTURE.md`.
 */
import type { Inngest } from "inngest";
import { clerkDeletedUserSchema } from "../clerk/schemas.ts";
import { userDeleted } from "../inngest/events.ts";
import { stripeCustomerDeleteRequested } from "./events.ts";
import { parseInput } from "../inngest/step_errors.ts";
import {
  STRIPE_RETRIES,
  STRIPE_USER_CONCURRENCY,
  stripeStep,
  type StripeWorkflowDeps,
} from "./stripe_steps.ts";

/** The function id. */
export const DELETE_STRIPE_CUSTOMER_FUNCTION_ID = "delete-stripe-customer";

/** Creates `delete-stripe-customer` on `client`. */
export function createDeleteStripeCustomerFunction(client: Inngest, deps: StripeWorkflowDeps) {
  return client.createFunction(
    {
      id: DELETE_STRIPE_CUSTOMER_FUNCTION_ID,
      name: "Delete Stripe customer",
      triggers: [userDeleted, stripeCustomerDeleteRequested],
      concurrency: [STRIPE_USER_CONCURRENCY],
      retries: STRIPE_RETRIES,
    },
    async ({ event, step }) => {
      const { id } = parseInput(
        clerkDeletedUserSchema,
        event.data,
        "Cannot delete Stripe customer",
      );
      const fields = { user_id: id, event: event.name, event_id: event.id };
      // The event's ts is when Clerk deleted the user, the same on every retry.
      const deletedAt = new Date(event.ts).toISOString();
      const tombstone = await step.run("tombstone-billing-customer", () =>
        stripeStep(
          deps.logger,
          "Billing customer tombstoned",
          fields,
          `Cannot tombstone billing customer of user "${id}"`,
          async () => {
            const result = await (await deps.billing()).tombstone(id, deletedAt);
            return { outcome: result.outcome, customerId: result.stripe_customer_id };
          },
        ));
      const customerId = tombstone.customerId;
      if (!customerId) return { userId: id, tombstone: tombstone.outcome, customer: "none" };
      const deleted = await step.run("delete-customer", () =>
        stripeStep(
          deps.logger,
          "Stripe customer deleted",
          { ...fields, customer_id: customerId },
          `Cannot delete Stripe customer of user "${id}"`,
          async () => ({ outcome: await (await deps.stripe()).deleteCustomer(customerId) }),
        ));
      return { userId: id, tombstone: tombstone.outcome, customer: deleted.outcome };
    },
  );
}
