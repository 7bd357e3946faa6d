/**
 * What the three Stripe functions share: their dependencies, the per-user
 * concurrency key that serializes their steps, and how a failed Stripe or
 * database call is retried. The ordering argument is in
 * `functions/stripe_trial/ARCHITECTURE.md`.
 */
import { NonRetriableError } from "inngest";
import type { BillingStore } from "./billing_store.ts";
import { type StripeBilling, StripeFailure } from "./stripe_client.ts";
import type { ClerkUser } from "../clerk/schemas.ts";
import { DatabaseError } from "../database/rpc.ts";
import type { LogFields, Logger } from "../util/log.ts";
import { databaseFailure, loggedWrite, providerFailure } from "../inngest/step_errors.ts";

/** Dependencies of the Stripe functions, resolved when a step needs them. */
export interface StripeWorkflowDeps {
  /** The Stripe client; the SDK is loaded on first use. */
  readonly stripe: () => Promise<StripeBilling>;
  readonly billing: () => Promise<BillingStore>;
  /** Where a change that arrives before the customer exists waits for it. */
  readonly users: UserMirror;
  readonly logger: Logger;
}

/**
 * The users table, as the Stripe trial needs it: a port the users feature
 * fills. A change of address or name that arrives before the customer is
 * recorded is applied there (newest `updated_at` wins), where
 * `catch-up-customer` reads it (ARCHITECTURE.md).
 */
export interface UserMirror {
  /** Applies `user` to `public.users` with the webhooks' rules. */
  apply(user: ClerkUser): Promise<unknown>;
}

/**
 * One step at a time per user, across `start-stripe-trial`,
 * `update-stripe-customer` and `delete-stripe-customer`: the key is shared
 * by every function of the environment that declares it (scope `env`), so
 * that each step reads the billing row and acts on it before another step
 * for the same user can change it.
 */
export const STRIPE_USER_CONCURRENCY = {
  scope: "env",
  key: '"stripe-user-" + event.data.id',
  limit: 1,
} as const;

/** Retries of each Stripe step: about 4.5 hours, well inside Stripe's 24 h key window. */
export const STRIPE_RETRIES = 10;

/** Without a `retry-after`, a 429 is retried after this long. */
const RATE_LIMIT_PAUSE_MS = 2_000;

/**
 * Runs a step's work and logs its outcome under `message`, or throws the
 * error Inngest should see (`providerFailure`): `RetryAfterError` for
 * Stripe's 429 and for a refused key (it may be mid-rotation: a 401 must not
 * drop a trial), `NonRetriableError` for a request that cannot pass (a
 * 4xx, or a key reused with other parameters) and for a permanent database
 * error, and the error itself otherwise, so that Inngest retries.
 */
export function stripeStep<T extends { outcome: string }>(
  logger: Logger,
  message: string,
  fields: LogFields,
  action: string,
  work: () => Promise<T>,
): Promise<T> {
  return loggedWrite(logger, message, fields, action, work, stepFailure);
}

function stepFailure(action: string, error: unknown): Error {
  if (error instanceof StripeFailure) {
    // A key reused with other parameters never passes, whatever the wait.
    if (error.kind === "idempotency") {
      return new NonRetriableError(`${action}: ${error.message}`, { cause: error });
    }
    return providerFailure(action, error, RATE_LIMIT_PAUSE_MS);
  }
  if (error instanceof DatabaseError) return databaseFailure(action, error);
  return error instanceof Error ? error : new Error(`${action}: ${String(error)}`);
}

/** Whether Clerk version `next` is newer than `recorded` (ISO 8601, either may be null). */
export function isNewer(next: string | null, recorded: string | null): boolean {
  if (!next) return false;
  return !recorded || Date.parse(next) > Date.parse(recorded);
}
