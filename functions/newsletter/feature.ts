/**
 * The product newsletter, an optional feature: on while Mailchimp or
 * Resend's contacts is configured. Consenting users are added
 * (`unsafe_metadata.newsletter === true` only), address changes and
 * opt-outs follow, and deleted users are removed (`newsletter_subscription.ts`).
 *
 * The provider clients, the store and the Mailchimp webhook's module load
 * on first use: the Clerk webhook path loads none of them. It fills the
 * deliverability feature's port for opt-outs: a one-click unsubscribe from
 * our marketing email unsubscribes the newsletter too.
 */
import { type Feature, type FeatureContext } from "../feature/feature.ts";
import { userEvents } from "../inngest/events.ts";
import { groupValue } from "../settings.ts";
import { describeFeature } from "../settings/features.ts";
import { NEWSLETTER_OFF_REASON } from "../settings/newsletter.ts";
import { withDeadline } from "../util/deadline.ts";
import { lazy } from "../util/lazy.ts";
import { errorFields } from "../util/log.ts";
import { newsletterUnsubscribeRequested } from "./events.ts";
import {
  createNewsletterFunction,
  createNewsletterSweepFunction,
  type NewsletterDeps,
} from "./newsletter_subscription.ts";
import type { NewsletterProvider } from "./provider.ts";
import type { ReconcilePart } from "../reconcile/reconcile_part.ts";
import { createNewsletterReconcilePart } from "./reconcile_part.ts";

/** Options of the newsletter feature. */
export interface NewsletterOptions {
  /** Bound on the opt-out nudge's send. Default 3 s. */
  readonly nudgeDeadlineMs?: number;
}

/** The newsletter, and what it gives the others. */
export interface NewsletterFeature extends Feature {
  /**
   * Nudges the workflow after an opt-out of ours; never throws, and gives
   * up after a few seconds (the opt-out waits in the database meanwhile,
   * and the hourly sweep sends it). Absent while the newsletter is off.
   */
  readonly afterOptOut?: (userId: string) => Promise<void>;
  /** Its part of the reconcile (a lost webhook's consent); absent while the newsletter is off. */
  readonly reconcile?: ReconcilePart;
}

/** Builds the newsletter. */
export function newsletterFeature(
  context: FeatureContext,
  options: NewsletterOptions = {},
): NewsletterFeature {
  const { settings, services, inngest, logger } = context;
  const newsletter = settings.newsletter.ok ? settings.newsletter.value : undefined;
  const feature: NewsletterFeature = {
    name: "newsletter",
    optional: true,
    state: describeFeature(settings.newsletter, NEWSLETTER_OFF_REASON),
    routes: [{
      path: "mailchimp-webhook",
      methods: ["GET", "POST"],
      summary: "Mailchimp's audience webhook (?secret=…), when the newsletter uses Mailchimp",
      needs: ["newsletter", "database"],
      off: newsletter?.provider === "mailchimp"
        ? undefined
        : "The newsletter does not use Mailchimp",
      load: async () => {
        const mailchimp = groupValue(settings.newsletter);
        if (mailchimp?.provider !== "mailchimp") {
          throw new Error("The newsletter is not on Mailchimp");
        }
        const { createMailchimpWebhookHandler } = await import("./mailchimp_webhook.ts");
        return createMailchimpWebhookHandler({
          secrets: mailchimp.webhookSecrets,
          audienceId: mailchimp.audienceId,
          preferences: services.preferences,
          logger,
        });
      },
    }],
  };
  if (!newsletter) return feature;

  const provider = lazy(async (): Promise<NewsletterProvider> => {
    if (newsletter.provider === "mailchimp") {
      const { createMailchimpProvider } = await import("./mailchimp.ts");
      return createMailchimpProvider({ ...newsletter, fetch: context.fetch });
    }
    const { createResendContactsProvider } = await import("./resend_contacts.ts");
    return createResendContactsProvider(newsletter);
  });
  const store = lazy(async () => {
    const { createSupabaseNewsletterStore } = await import("./supabase_store.ts");
    return createSupabaseNewsletterStore(await services.supabase());
  });
  const deps: NewsletterDeps = { provider, store, logger };
  const reconcile = createNewsletterReconcilePart({ clerk: services.clerk, store });
  const deadlineMs = options.nudgeDeadlineMs ?? 3_000;
  return {
    ...feature,
    events: userEvents,
    reconcile,
    functions: (client) => [
      createNewsletterFunction(client, deps),
      createNewsletterSweepFunction(client, deps),
    ],
    afterOptOut: inngest && (async (userId) => {
      try {
        await withDeadline(
          inngest.send(newsletterUnsubscribeRequested.create({ id: userId })),
          deadlineMs,
          "Inngest did not answer in time",
        );
      } catch (error) {
        // The opt-out is pending in the database; the hourly sweep sends it.
        logger.warn("Newsletter opt-out not handed to Inngest; the sweep will", {
          user_id: userId,
          ...errorFields(error),
        });
      }
    }),
  };
}
