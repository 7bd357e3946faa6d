/**
 * The optional features and their states, by name, for `/health`'s details:
 * `on`, `off: <why>`, or `invalid` while partly configured (the problems
 * say what is missing). A feature adds its line here, with `describeFeature`
 * (settings/features.ts).
 */
import type { Settings } from "../settings.ts";
import { describeFeature } from "../settings/features.ts";
import { NEWSLETTER_OFF_REASON } from "../settings/newsletter.ts";

/** Every optional feature's state, by name. */
export function optionalFeatures(settings: Settings): Readonly<Record<string, string>> {
  return {
    newsletter: describeFeature(settings.newsletter, NEWSLETTER_OFF_REASON),
    stripe_trial: describeFeature(
      settings.stripe,
      "STRIPE_SECRET_KEY and STRIPE_TRIAL_PRICE_ID are not set",
    ),
  };
}
