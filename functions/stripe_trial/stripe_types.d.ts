/**
 * The part of the `stripe` package (23.1.0) that `stripe_sdk.ts` uses,
 * declared here for the type check. The package's own declarations start
 * with `/// <reference types="node" />`, which makes `deno check` load
 * `@types/node` from npm for the whole program in place of Deno's built-in
 * Node types (node:assert's overloads change, for one), so every module
 * would type-check differently because of one lazy import. At run time the
 * real package runs: the tests drive it against the Stripe stand-in, so a
 * declaration that drifts from it fails them.
 */

/** The constructor's options this app sets. */
export interface StripeConfig {
  httpClient?: StripeHttpClient;
  host?: string;
  port?: number;
  protocol?: "http" | "https";
  maxNetworkRetries?: number;
  timeout?: number;
  telemetry?: boolean;
  appInfo?: { name: string; version?: string; url?: string };
}

/** The SDK's HTTP client (opaque here). */
export interface StripeHttpClient {
  getClientName(): string;
}

/** Per-request options. */
export interface RequestOptions {
  idempotencyKey?: string;
}

/** A customer, as far as this app reads it. */
export interface Customer {
  id: string;
  object: "customer";
}

/** A subscription, as far as this app reads it. */
export interface Subscription {
  id: string;
  object: "subscription";
  /** Epoch seconds. */
  trial_end: number | null;
}

/** The SDK's client. */
declare class Stripe {
  constructor(apiKey: string, config?: StripeConfig);
  /** The HTTP client over `fetch` (the global one unless given). */
  static createFetchHttpClient(fetchFn?: typeof fetch): StripeHttpClient;
  customers: {
    create(
      params: { email?: string; name?: string; metadata?: Record<string, string> },
      options?: RequestOptions,
    ): Promise<Customer>;
    update(
      id: string,
      params: { email?: string; name?: string },
      options?: RequestOptions,
    ): Promise<Customer>;
    del(id: string): Promise<{ id: string; object: "customer"; deleted: true }>;
  };
  subscriptions: {
    create(
      params: {
        customer: string;
        items: { price: string }[];
        trial_period_days?: number;
        trial_settings?: {
          end_behavior: { missing_payment_method: "cancel" | "create_invoice" | "pause" };
        };
        metadata?: Record<string, string>;
      },
      options?: RequestOptions,
    ): Promise<Subscription>;
  };
}

export default Stripe;
