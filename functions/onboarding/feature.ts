/**
 * The onboarding emails: a welcome email at sign-up, a durable wait
 * (`ONBOARDING_TRIAL_OFFER_DELAY`, three days by default), then a
 * trial-offer email, each sent at most once (`onboarding_emails.ts`).
 */
import { createUnsubscribeLinks } from "../email/list_unsubscribe.ts";
import { type Feature, type FeatureContext, stateOf } from "../feature/feature.ts";
import { userEvents } from "../inngest/events.ts";
import { EMAIL_DEFAULTS } from "../settings/email.ts";
import {
  createOnboardingFunction,
  type Recipients,
  type TrialLookup,
} from "./onboarding_emails.ts";

/** What onboarding takes from the other features. */
export interface OnboardingPorts {
  /** The users' current addresses (the users feature). */
  readonly recipients: () => Promise<Recipients>;
  /** Running trials, while the Stripe trial is on. */
  readonly trials?: TrialLookup;
}

/** Builds the onboarding feature. */
export function onboardingFeature(context: FeatureContext, ports: OnboardingPorts): Feature {
  const { settings, services, logger } = context;
  const email = settings.email.ok ? settings.email.value : EMAIL_DEFAULTS;
  const unsubscribe = settings.unsubscribe.ok ? settings.unsubscribe.value : undefined;
  return {
    name: "onboarding_emails",
    state: stateOf(settings, ["email", "database"]),
    events: userEvents,
    functions: (client) => [
      createOnboardingFunction(client, {
        email: services.email,
        recipients: ports.recipients,
        deliveries: services.deliveries,
        preferences: services.preferences,
        unsubscribeLinks: unsubscribe && createUnsubscribeLinks(unsubscribe),
        mailer: services.mailer,
        logger,
        trialOfferDelay: email.trialOfferDelay,
        maxSendsPerSecond: email.maxSendsPerSecond,
        trials: ports.trials,
      }),
    ],
  };
}
