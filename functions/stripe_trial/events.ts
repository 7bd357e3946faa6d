/**
 * The Stripe trial's own event.
 */
import { eventType } from "inngest";
import { clerkDeletedUserSchema } from "../clerk/schemas.ts";

/**
 * `clerk-events/stripe-customer.delete.requested`: a user was deleted while
 * their `user.deleted` webhook never came (the reconcile or /users/me/sync
 * made the tombstone), and their Stripe customer is still alive. The data
 * is shaped like Clerk's DeletedObject (`{ id, deleted: true }`), so that
 * `delete-stripe-customer` reads it as it reads `clerk/user.deleted`.
 */
export const stripeCustomerDeleteRequested = eventType(
  "clerk-events/stripe-customer.delete.requested",
  { schema: clerkDeletedUserSchema },
);
