/**
 * The Stripe trial's settings: an optional feature. With `STRIPE_SECRET_KEY`
 * and `STRIPE_TRIAL_PRICE_ID` both unset it is off, and that is no problem;
 * with only one of them set it is a problem that names the other.
 *
 * The trial's length is `TRIAL_DAYS`, the setting the email copy reads
 * (settings/email_copy.ts), so that the email and the subscription agree.
 */
import { z } from "zod";
import { type Env, isUrl, parseGroup, required } from "./_schema.ts";
import { TRIAL_DAYS } from "./email_copy.ts";
import { type FeatureGroup, optionalFeature } from "./features.ts";

/** Where the Stripe SDK sends its requests: it takes these three, not a URL. */
export interface StripeEndpoint {
  readonly host: string;
  readonly port: number;
  readonly protocol: "http" | "https";
}

/** The Stripe trial's settings, when the feature is on. */
export interface StripeSettings {
  /** A secret key, `sk_test_…` or `sk_live_…` (or a restricted `rk_…` key). */
  readonly secretKey: string;
  /** The price the trial subscribes to, `price_…`. */
  readonly trialPriceId: string;
  readonly endpoint: StripeEndpoint;
  /** `TRIAL_DAYS`: the subscription's `trial_period_days`. */
  readonly trialDays: number;
}

/** The variables of this group, in the order `.env.example` lists them. */
export const STRIPE_SETTING_NAMES = [
  "STRIPE_SECRET_KEY",
  "STRIPE_TRIAL_PRICE_ID",
  "STRIPE_API_URL",
] as const;

/** The two that turn the feature on. */
const REQUIRED = ["STRIPE_SECRET_KEY", "STRIPE_TRIAL_PRICE_ID"] as const;

/** Stripe's API. */
export const DEFAULT_STRIPE_API_URL = "https://api.stripe.com";

const schema = z.object({
  STRIPE_SECRET_KEY: required(
    "STRIPE_SECRET_KEY is missing: the trial needs both Stripe settings " +
      "(Stripe dashboard > Developers > API keys)",
  ).regex(/^(sk|rk)_(test|live)_\S+$/, {
    error: "STRIPE_SECRET_KEY must be a Stripe secret key, sk_test_... or sk_live_...",
  }),
  STRIPE_TRIAL_PRICE_ID: required(
    "STRIPE_TRIAL_PRICE_ID is missing: the trial needs the price it subscribes to (price_...)",
  ).regex(/^price_\w+$/, { error: "STRIPE_TRIAL_PRICE_ID must be a Stripe price id, price_..." }),
  STRIPE_API_URL: z.string()
    .refine((url) => isUrl(url) && ["", "/"].includes(new URL(url).pathname), {
      error: "STRIPE_API_URL must be an http(s) URL without a path, e.g. https://api.stripe.com",
    })
    .default(DEFAULT_STRIPE_API_URL)
    .transform(stripeEndpoint),
  // The same variable, default and rule as the email copy's.
  TRIAL_DAYS: z.string().optional().transform((value, ctx) => {
    const parsed = TRIAL_DAYS.schema.safeParse(TRIAL_DAYS.raw({ TRIAL_DAYS: value }));
    if (parsed.success) return parsed.data;
    ctx.addIssue({ code: "custom", message: `${TRIAL_DAYS.name} ${TRIAL_DAYS.rule}` });
    return z.NEVER;
  }),
});

/** Parses the Stripe group: off while both required variables are unset. Never throws. */
export function parseStripeSettings(env: Env): FeatureGroup<StripeSettings> {
  return optionalFeature(env, REQUIRED, (all) =>
    parseGroup(schema, all, (value) => ({
      secretKey: value.STRIPE_SECRET_KEY,
      trialPriceId: value.STRIPE_TRIAL_PRICE_ID,
      endpoint: value.STRIPE_API_URL,
      trialDays: value.TRIAL_DAYS,
    })));
}

/** `https://api.stripe.com` as the SDK's host, port and protocol. */
export function stripeEndpoint(url: string): StripeEndpoint {
  const parsed = new URL(url);
  const protocol = parsed.protocol === "http:" ? "http" : "https";
  return {
    host: parsed.hostname,
    port: parsed.port ? Number(parsed.port) : protocol === "http" ? 80 : 443,
    protocol,
  };
}
