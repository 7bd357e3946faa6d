/**
 * {@link StripeBilling} over the official `stripe` package, with its fetch
 * HTTP client. Loaded with `import()` by `stripe_client.ts` when a Stripe
 * step first runs: the SDK is the largest module of the function, and the
 * webhook path never needs it.
 *
 * The SDK's own retries are off: each step attempt makes one request, and
 * Inngest retries the step with the same idempotency key, so that every
 * attempt shows in the run's history and follows the function's retry
 * policy.
 */
// Typed by a local declaration: the package's own would replace Deno's
// Node types with @types/node for the whole type check (stripe_types.d.ts).
// @ts-types="./stripe_types.d.ts"
import Stripe from "stripe";
import { failureKind, parseRetryAfter } from "../util/provider_failure.ts";
import type { StripeSettings } from "../settings/stripe.ts";
import {
  type CreatedTrial,
  type StripeBilling,
  StripeFailure,
  type StripeFailureKind,
} from "./stripe_client.ts";

/** A request's time limit. Inngest retries one that runs out. */
const TIMEOUT_MS = 20_000;

/** Builds the client for `settings`; `fetchImpl` carries every request. */
export function createStripeBilling(
  settings: StripeSettings,
  fetchImpl?: typeof fetch,
): StripeBilling {
  const stripe = new Stripe(settings.secretKey, {
    httpClient: Stripe.createFetchHttpClient(fetchImpl),
    host: settings.endpoint.host,
    port: settings.endpoint.port,
    protocol: settings.endpoint.protocol,
    maxNetworkRetries: 0,
    timeout: TIMEOUT_MS,
    telemetry: false,
    appInfo: { name: "clerk-events" },
  });
  return {
    createCustomer: (fields, idempotencyKey) =>
      call("Cannot create Stripe customer", async () => {
        const customer = await stripe.customers.create({
          ...(fields.email ? { email: fields.email } : {}),
          ...(fields.name ? { name: fields.name } : {}),
          metadata: { clerk_user_id: fields.userId },
        }, { idempotencyKey });
        return { id: customer.id };
      }),
    updateCustomer: (customerId, fields, idempotencyKey) =>
      call("Cannot update Stripe customer", async () => {
        try {
          // An empty string clears the field at Stripe.
          await stripe.customers.update(customerId, {
            email: fields.email ?? "",
            name: fields.name ?? "",
          }, { idempotencyKey });
          return "updated" as const;
        } catch (error) {
          if (isMissing(error)) return "missing" as const;
          throw error;
        }
      }),
    deleteCustomer: (customerId) =>
      call("Cannot delete Stripe customer", async () => {
        try {
          await stripe.customers.del(customerId);
          return "deleted" as const;
        } catch (error) {
          if (isMissing(error)) return "missing" as const;
          throw error;
        }
      }),
    startTrial: (fields, idempotencyKey) =>
      call("Cannot start Stripe trial", async (): Promise<CreatedTrial> => {
        const subscription = await stripe.subscriptions.create({
          customer: fields.customerId,
          items: [{ price: settings.trialPriceId }],
          trial_period_days: settings.trialDays,
          // No card is asked for: without one, the trial ends by cancelling.
          trial_settings: { end_behavior: { missing_payment_method: "cancel" } },
          metadata: { clerk_user_id: fields.userId },
        }, { idempotencyKey });
        return {
          id: subscription.id,
          trialEndsAt: subscription.trial_end
            ? new Date(subscription.trial_end * 1000).toISOString()
            : null,
        };
      }),
  };
}

/** Runs one request, turning the SDK's errors into {@link StripeFailure}. */
async function call<T>(action: string, request: () => Promise<T>): Promise<T> {
  try {
    return await request();
  } catch (error) {
    throw toFailure(action, error);
  }
}

interface SdkError {
  readonly statusCode?: number;
  readonly rawType?: string;
  readonly type?: string;
  readonly code?: string;
  readonly headers?: Record<string, string>;
}

function isMissing(error: unknown): boolean {
  const e = error as SdkError;
  return (e?.statusCode === 404 || e?.statusCode === 400) && e.code === "resource_missing";
}

function toFailure(action: string, error: unknown): StripeFailure {
  const e = (error ?? {}) as SdkError;
  const status = typeof e.statusCode === "number" ? e.statusCode : undefined;
  let kind: StripeFailureKind = failureKind(status);
  if (e.code === "rate_limit") kind = "rate_limited";
  else if (e.rawType === "idempotency_error") kind = "idempotency";
  return new StripeFailure(action, {
    kind,
    status,
    type: e.rawType ?? e.type,
    code: e.code,
    retryAfterMs: parseRetryAfter(e.headers?.["retry-after"]),
  });
}
