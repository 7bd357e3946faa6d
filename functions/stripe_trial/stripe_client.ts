/**
 * The Stripe requests this app makes, as an interface the workflows call,
 * and the one error type they get back. The implementation
 * (`stripe_sdk.ts`, over the official `stripe` package) is loaded with
 * `import()` when a Stripe step first runs (see `feature.ts`), so that
 * neither the webhook path nor the cold start loads the SDK.
 */
import type { FailureKind } from "../util/provider_failure.ts";

/** A customer as created: `email`, `name` and `metadata[clerk_user_id]`. */
export interface CustomerFields {
  readonly userId: string;
  /** The primary address; left out when null. */
  readonly email: string | null;
  /** First and last name joined by a space; left out when both are empty. */
  readonly name: string | null;
}

/** A trial subscription to `STRIPE_TRIAL_PRICE_ID`. */
export interface TrialFields {
  readonly userId: string;
  readonly customerId: string;
}

/** The trial subscription Stripe created. */
export interface CreatedTrial {
  readonly id: string;
  /** ISO 8601, from Stripe's `trial_end`; null if Stripe gave none. */
  readonly trialEndsAt: string | null;
}

/** The Stripe API as the workflows use it. Each create carries `idempotencyKey`. */
export interface StripeBilling {
  createCustomer(fields: CustomerFields, idempotencyKey: string): Promise<{ id: string }>;
  /** `missing` when Stripe has no such (live) customer. */
  updateCustomer(
    customerId: string,
    fields: Omit<CustomerFields, "userId">,
    idempotencyKey: string,
  ): Promise<"updated" | "missing">;
  /** Deletes the customer, which cancels its subscriptions; `missing` if already gone. */
  deleteCustomer(customerId: string): Promise<"deleted" | "missing">;
  startTrial(fields: TrialFields, idempotencyKey: string): Promise<CreatedTrial>;
}

/** How a failed Stripe request should be retried. */
export type StripeFailureKind =
  /** A provider failure's kind (`../util/provider_failure.ts`); 401 and 403 wait out a key rotation. */
  | FailureKind
  /** The same key came with other parameters (400 idempotency_error): it never passes. */
  | "idempotency";

/**
 * A failed Stripe request. The message names the request, the status and
 * Stripe's error type and code, never Stripe's message (it may quote an
 * address).
 */
export class StripeFailure extends Error {
  readonly kind: StripeFailureKind;
  readonly status: number | undefined;
  /** Stripe's `retry-after`, in ms, when it sent one. */
  readonly retryAfterMs: number | undefined;

  constructor(
    action: string,
    detail: {
      kind: StripeFailureKind;
      status?: number;
      type?: string;
      code?: string;
      retryAfterMs?: number;
    },
  ) {
    const what = [detail.type, detail.code].filter(Boolean).join(" ");
    super(
      detail.status === undefined
        ? `${action}: no answer from Stripe (${what || "connection failed"})`
        : `${action}: Stripe answered ${detail.status}${what ? ` ${what}` : ""}`,
    );
    this.name = "StripeFailure";
    this.kind = detail.kind;
    this.status = detail.status;
    this.retryAfterMs = detail.retryAfterMs;
  }
}

/** The idempotency key of the user's customer: the same on every retry and replay. */
export const customerKey = (userId: string) => `clerk-events/stripe-customer/${userId}`;
/** The idempotency key of the user's trial subscription. */
export const trialKey = (userId: string) => `clerk-events/stripe-trial/${userId}`;
/** The idempotency key of one version of the user sent to their customer. */
export const customerVersionKey = (userId: string, clerkUpdatedAt: string) =>
  `clerk-events/stripe-customer-update/${userId}/${Date.parse(clerkUpdatedAt)}`;

/** "Ada Lovelace", "Ada", or null when both names are empty. */
export function customerName(firstName: string | null, lastName: string | null): string | null {
  const name = [firstName, lastName].map((part) => part?.trim()).filter(Boolean).join(" ");
  return name || null;
}
