/**
 * `onboarding-emails`: a welcome email at sign-up, a durable wait (3 days by
 * default), then a trial-offer email, each sent exactly once.
 *
 * - The welcome email uses the event's data: the users row may not be
 *   written yet, since sync-user-from-clerk runs in parallel. It is skipped
 *   for a user whose tombstone is already there.
 * - The trial offer re-reads the user, so it goes to the current address and
 *   name, and is skipped (with the reason recorded) for a user who was
 *   deleted, opted out of marketing email (`unsubscribed`) or has no
 *   address. It is marketing email, so it carries RFC 8058 one-click
 *   unsubscribe headers and a visible link; while the unsubscribe settings
 *   are invalid it is skipped rather than sent without them.
 * - When start-stripe-trial has started a Stripe trial that is still
 *   running, the trial offer does not offer it again: it says the trial is
 *   running and when it ends, and links to UPGRADE_URL.
 * - A `clerk/user.deleted` for the same user cancels the run during the wait.
 * - `idempotency` on the user id stops a replayed `user.created` from
 *   starting a second sequence (Inngest keeps that key for 24 hours; past
 *   that, the deliveries ledger still refuses a second send).
 */
import type { Inngest } from "inngest";
import { clerkUserSchema } from "../clerk/schemas.ts";
import { type DeliverDeps, deliverEmail, type DeliveryRequest } from "../email/deliver.ts";
import type { DeliveriesStore, EmailKind } from "../email/deliveries_store.ts";
import { listUnsubscribeHeaders, type UnsubscribeLinks } from "../email/list_unsubscribe.ts";
import type { EmailPreferencesStore } from "../email/preferences_store.ts";
import { userCreated, userDeleted } from "../inngest/events.ts";
import type { EmailSettings } from "../settings.ts";
import { primaryEmail } from "../clerk/primary_email.ts";
import { parseInput } from "../inngest/step_errors.ts";

/** The function id, part of the contract. */
export const ONBOARDING_FUNCTION_ID = "onboarding-emails";

/** Who an email goes to now, as the users feature stores it. */
export interface Recipient {
  readonly email: string | null;
  readonly first_name: string | null;
  readonly deleted: boolean;
}

/** The users' current addresses: a port the users feature fills. */
export interface Recipients {
  /** The user's current address and name; `null` if never synced. */
  findRecipient(id: string): Promise<Recipient | null>;
}

/** Running trials: a port the Stripe trial fills while it is on. */
export interface TrialLookup {
  /** When the user's trial ends (ISO 8601), while one is running; else undefined. */
  runningTrialEnd(userId: string): Promise<string | undefined>;
}

/** Dependencies of the onboarding workflow, resolved when a step needs them. */
export interface OnboardingDeps extends Pick<DeliverDeps, "mailer" | "logger"> {
  /** Throws, naming the problems, while the email settings are invalid. */
  readonly email: () => EmailSettings;
  readonly recipients: () => Promise<Recipients>;
  readonly deliveries: () => Promise<DeliveriesStore>;
  /** Opt-outs, checked before the trial offer. */
  readonly preferences: () => Promise<EmailPreferencesStore>;
  /** A user's unsubscribe link; absent while the unsubscribe settings are invalid. */
  readonly unsubscribeLinks?: UnsubscribeLinks;
  /** Registered with Inngest when the function is created. */
  readonly trialOfferDelay: string;
  readonly maxSendsPerSecond: number;
  /** The Stripe trials; absent while the Stripe trial is off. */
  readonly trials?: TrialLookup;
}

/** Creates `onboarding-emails` on `client`. */
export function createOnboardingFunction(client: Inngest, deps: OnboardingDeps) {
  return client.createFunction(
    {
      id: ONBOARDING_FUNCTION_ID,
      name: "Onboarding emails",
      triggers: [userCreated],
      cancelOn: [{ event: userDeleted, match: "data.id" }],
      idempotency: "event.data.id",
      // Resend's default team limit is 2 requests per second. This spaces
      // the starts of runs, and so the welcome emails; a 429 that still
      // happens is retried after Resend's retry-after.
      throttle: { limit: deps.maxSendsPerSecond, period: "1s" },
      retries: 10,
    },
    async ({ event, step }) => {
      const user = parseInput(clerkUserSchema, event.data, "Cannot start onboarding");

      const welcome = await step.run("welcome-email", async () => {
        // The users row may not be written yet, so the address comes from
        // the event; but a tombstone already there means no email at all.
        const current = await (await deps.recipients()).findRecipient(user.id);
        if (current?.deleted) return deliver(deps, "welcome", user.id, "user was deleted");
        return deliver(deps, "welcome", user.id, {
          email: primaryEmail(user),
          firstName: user.first_name,
        });
      });

      await step.sleep("wait-3-days", deps.trialOfferDelay);

      const trialOffer = await step.run("trial-offer-email", async () => {
        const current = await (await deps.recipients()).findRecipient(user.id);
        if (current?.deleted) return deliver(deps, "trial_offer", user.id, "user was deleted");
        if (await (await deps.preferences()).isOptedOut(user.id)) {
          return deliver(deps, "trial_offer", user.id, SKIPPED_UNSUBSCRIBED);
        }
        if (!deps.unsubscribeLinks) {
          return deliver(deps, "trial_offer", user.id, SKIPPED_NO_UNSUBSCRIBE_LINK);
        }
        return deliver(deps, "trial_offer", user.id, {
          email: current ? current.email : primaryEmail(user),
          firstName: current ? current.first_name : user.first_name,
          unsubscribeUrl: await deps.unsubscribeLinks(user.id),
          trialEndsAt: await deps.trials?.runningTrialEnd(user.id),
        });
      });

      return { userId: user.id, welcome: welcome.status, trialOffer: trialOffer.status };
    },
  );
}

/** The reason recorded when the user opted out of marketing email. */
export const SKIPPED_UNSUBSCRIBED = "unsubscribed";

/**
 * The reason recorded when the unsubscribe settings are invalid: marketing
 * email without one-click unsubscribe breaks Gmail's and Yahoo's sender
 * rules (and CAN-SPAM), so the offer is skipped rather than sent without.
 */
export const SKIPPED_NO_UNSUBSCRIBE_LINK =
  "unsubscribe link not configured (PUBLIC_FUNCTION_URL, UNSUBSCRIBE_SECRET)";

/** Builds the request for one email (or its skip) and delivers it. */
async function deliver(
  deps: OnboardingDeps,
  kind: EmailKind,
  userId: string,
  to: {
    email: string | null;
    firstName: string | null;
    unsubscribeUrl?: string;
    trialEndsAt?: string;
  } | string,
) {
  const settings = deps.email();
  let request: DeliveryRequest;
  if (typeof to === "string") request = { userId, kind, skipReason: to };
  else if (!to.email) request = { userId, kind, skipReason: "user has no email address" };
  else {
    // Loaded here, not at start-up: the webhook path never renders an email.
    const { TEMPLATES, templateInput } = await import("../email/templates/by_kind.ts");
    const rendered = TEMPLATES[kind](
      templateInput(settings, {
        firstName: to.firstName,
        unsubscribeUrl: to.unsubscribeUrl,
        trialEndsAt: to.trialEndsAt,
      }),
    );
    const headers = to.unsubscribeUrl ? listUnsubscribeHeaders(to.unsubscribeUrl) : undefined;
    request = {
      userId,
      kind,
      message: { from: settings.from, to: to.email, ...rendered, ...(headers ? { headers } : {}) },
    };
  }
  return deliverEmail({
    deliveries: await deps.deliveries(),
    mailer: deps.mailer,
    dryRun: settings.dryRun,
    logger: deps.logger,
  }, request);
}
