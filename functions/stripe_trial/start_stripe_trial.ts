/**
 * `start-stripe-trial` (on `clerk/user.created`): one Stripe customer and one
 * trial subscription per user, recorded in `public.billing_customers`.
 *
 * - Exactly once: each create carries an `Idempotency-Key` derived from the
 *   user id, so a retry whose first answer was lost replays that answer; the
 *   recorded row, read before every create, stops a replay past Stripe's 24
 *   hours; `idempotency` stops a second run within Inngest's 24 hours.
 * - Never for a deleted user: the tombstone (in `billing_customers` or
 *   `public.users`) is read in the same step as the create, and a customer
 *   recorded over a tombstone is deleted at once. No `cancelOn`: a run
 *   cancelled between the create and the record would leave a customer that
 *   nobody knows of. See `functions/stripe_trial/ARCHITECTURE.md`.
 */
import type { Inngest } from "inngest";
import { customerKey, customerName, customerVersionKey, trialKey } from "./stripe_client.ts";
import { clerkUserSchema } from "../clerk/schemas.ts";
import { userCreated } from "../inngest/events.ts";
import { primaryEmail } from "../clerk/primary_email.ts";
import { parseInput } from "../inngest/step_errors.ts";
import {
  isNewer,
  STRIPE_RETRIES,
  STRIPE_USER_CONCURRENCY,
  stripeStep,
  type StripeWorkflowDeps,
} from "./stripe_steps.ts";

/** The function id, part of the contract. */
export const START_STRIPE_TRIAL_FUNCTION_ID = "start-stripe-trial";

/** Creates `start-stripe-trial` on `client`. */
export function createStartStripeTrialFunction(client: Inngest, deps: StripeWorkflowDeps) {
  return client.createFunction(
    {
      id: START_STRIPE_TRIAL_FUNCTION_ID,
      name: "Start Stripe trial",
      triggers: [userCreated],
      concurrency: [STRIPE_USER_CONCURRENCY],
      idempotency: "event.data.id",
      retries: STRIPE_RETRIES,
    },
    async ({ event, step, attempt }) => {
      const user = parseInput(clerkUserSchema, event.data, "Cannot start Stripe trial");
      const fields = { user_id: user.id, event: event.name, event_id: event.id };
      const version = new Date(user.updated_at).toISOString();

      const customer = await step.run("create-customer", () =>
        stripeStep(
          deps.logger,
          "Stripe customer",
          fields,
          `Cannot create Stripe customer for user "${user.id}"`,
          async () => {
            const billing = await deps.billing();
            const state = await billing.state(user.id);
            // A retry may follow an attempt that created (and even recorded)
            // the customer before its answer was lost; a first attempt
            // cannot, so for it a tombstone means: send nothing.
            const retry = attempt > 0;
            if (state.deleted && !retry) return { outcome: "user_deleted", customerId: null };
            if (state.stripe_customer_id) {
              return {
                outcome: state.deleted ? "deleted" : "existing",
                customerId: state.stripe_customer_id,
              };
            }
            const created = await (await deps.stripe()).createCustomer({
              userId: user.id,
              email: primaryEmail(user),
              name: customerName(user.first_name, user.last_name),
            }, customerKey(user.id));
            const outcome = await billing.recordCustomer(user.id, created.id, version);
            return { outcome, customerId: created.id };
          },
        ));

      if (!customer.customerId || customer.outcome === "user_deleted") {
        return { userId: user.id, customer: customer.outcome };
      }
      const customerId = customer.customerId;
      if (customer.outcome === "deleted" || customer.outcome === "duplicate") {
        // The user was deleted while the customer was being created (or
        // another customer is already recorded): this run is the one that
        // knows of this customer, so it deletes it.
        const deleted = await step.run("delete-customer", () =>
          stripeStep(
            deps.logger,
            "Stripe customer deleted",
            { ...fields, customer_id: customerId },
            `Cannot delete Stripe customer of user "${user.id}"`,
            async () => ({ outcome: await (await deps.stripe()).deleteCustomer(customerId) }),
          ));
        return { userId: user.id, customer: customer.outcome, deleted: deleted.outcome };
      }

      const trial = await step.run("start-trial", () =>
        stripeStep(
          deps.logger,
          "Stripe trial",
          { ...fields, customer_id: customerId },
          `Cannot start Stripe trial for user "${user.id}"`,
          async () => {
            const billing = await deps.billing();
            const state = await billing.state(user.id);
            // Recorded before the tombstone: delete-stripe-customer deletes
            // the customer, which cancels any subscription.
            if (state.deleted) return { outcome: "user_deleted", subscriptionId: null };
            if (state.stripe_subscription_id) {
              return { outcome: "existing", subscriptionId: state.stripe_subscription_id };
            }
            const created = await (await deps.stripe()).startTrial(
              { userId: user.id, customerId },
              trialKey(user.id),
            );
            const outcome = await billing.recordTrial(user.id, created.id, created.trialEndsAt);
            return { outcome, subscriptionId: created.id };
          },
        ));

      // An address or name change that arrived before the customer existed
      // was applied to public.users (update-stripe-customer does that), so
      // the newest version is there: send it if it is newer than the one
      // the customer was created with.
      const caughtUp = await step.run("catch-up-customer", () =>
        stripeStep(
          deps.logger,
          "Stripe customer caught up",
          { ...fields, customer_id: customerId },
          `Cannot update Stripe customer of user "${user.id}"`,
          async () => {
            const billing = await deps.billing();
            const state = await billing.state(user.id);
            if (state.deleted) return { outcome: "user_deleted" };
            const newest = state.user;
            if (!newest || !isNewer(newest.clerk_updated_at, state.customer_version)) {
              return { outcome: "current" };
            }
            const updated = await (await deps.stripe()).updateCustomer(customerId, {
              email: newest.email,
              name: customerName(newest.first_name, newest.last_name),
            }, customerVersionKey(user.id, newest.clerk_updated_at!));
            if (updated === "missing") return { outcome: "missing" };
            return {
              outcome: await billing.recordCustomerVersion(user.id, newest.clerk_updated_at!),
            };
          },
        ));

      return {
        userId: user.id,
        customer: customer.outcome,
        trial: trial.outcome,
        catchUp: caughtUp.outcome,
      };
    },
  );
}
