/**
 * The newsletter's part of the app: its workflows, the Mailchimp webhook
 * route and the nudge that one-click unsubscribe sends, built from the
 * settings. `app.ts` registers what this returns. Off (no functions, the
 * route answers 404) while neither provider is configured.
 *
 * The provider clients, the store and the route's module are loaded on
 * first use: the Clerk webhook path loads none of them.
 */
import type { Inngest, InngestFunction } from "inngest";
import type { AppServices } from "../app/services.ts";
import { type Handler, lazyHandler } from "../app/lazy_routes.ts";
import { HttpError } from "../http/http_error.ts";
import { newsletterUnsubscribeRequested } from "../inngest/events.ts";
import type { Settings } from "../settings.ts";
import { lazy } from "../util/lazy.ts";
import { errorFields, type Logger } from "../util/log.ts";
import {
  createNewsletterFunction,
  createNewsletterSweepFunction,
  type NewsletterDeps,
} from "./newsletter_subscription.ts";
import type { NewsletterProvider } from "./provider.ts";

/** What the app registers for the newsletter. */
export interface NewsletterWiring {
  readonly functions: readonly InngestFunction.Any[];
  /** `GET, POST /clerk-events/mailchimp-webhook`. */
  readonly mailchimpWebhook: Handler;
  /**
   * Nudges the workflow after an opt-out of ours; never throws, and gives
   * up after a few seconds (the opt-out waits in the database meanwhile).
   */
  readonly requestUnsubscribe?: (userId: string) => Promise<void>;
}

/** What {@link wireNewsletter} needs from the app. */
export interface NewsletterWiringDeps {
  readonly settings: Settings;
  readonly services: AppServices;
  readonly inngest?: Inngest;
  readonly logger: Logger;
  readonly fetch?: typeof fetch;
  /** Bound on the nudge's send. Default 3 s. */
  readonly nudgeDeadlineMs?: number;
}

/** Builds the newsletter's functions and routes from the settings. */
export function wireNewsletter(deps: NewsletterWiringDeps): NewsletterWiring {
  const { settings, services, inngest, logger } = deps;
  const group = settings.newsletter;
  const newsletter = group.ok ? group.value : undefined;
  const mailchimpWebhook: Handler = newsletter?.provider === "mailchimp" && settings.database.ok
    ? lazyHandler(async () => {
      const { createMailchimpWebhookHandler } = await import("./mailchimp_webhook.ts");
      return createMailchimpWebhookHandler({
        secrets: newsletter.webhookSecrets,
        audienceId: newsletter.audienceId,
        preferences: services.preferences,
        logger,
      });
    })
    : () => {
      const problems = [...(group.ok ? [] : group.problems)];
      if (!settings.database.ok) problems.push(...settings.database.problems);
      throw problems.length
        ? new HttpError(503, "not_configured", `Not configured: ${problems.join("; ")}`)
        : new HttpError(404, "not_found", "The newsletter does not use Mailchimp");
    };
  if (!newsletter || !inngest) return { functions: [], mailchimpWebhook };

  const provider = lazy(async (): Promise<NewsletterProvider> => {
    if (newsletter.provider === "mailchimp") {
      const { createMailchimpProvider } = await import("./mailchimp.ts");
      return createMailchimpProvider({ ...newsletter, fetch: deps.fetch });
    }
    const { createResendContactsProvider } = await import("./resend_contacts.ts");
    return createResendContactsProvider(newsletter);
  });
  const store = lazy(async () => {
    const { createSupabaseNewsletterStore } = await import("./supabase_store.ts");
    return createSupabaseNewsletterStore(await services.supabase());
  });
  const workflowDeps: NewsletterDeps = { provider, store, logger };
  const deadlineMs = deps.nudgeDeadlineMs ?? 3_000;
  return {
    functions: [
      createNewsletterFunction(inngest, workflowDeps),
      createNewsletterSweepFunction(inngest, workflowDeps),
    ],
    mailchimpWebhook,
    requestUnsubscribe: async (userId) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        await Promise.race([
          inngest.send(newsletterUnsubscribeRequested.create({ id: userId })),
          new Promise((_, reject) => {
            timer = setTimeout(
              () => reject(new Error("Inngest did not answer in time")),
              deadlineMs,
            );
          }),
        ]);
      } catch (error) {
        // The opt-out is pending in the database; the hourly sweep sends it.
        logger.warn("Newsletter opt-out not handed to Inngest; the sweep will", {
          user_id: userId,
          ...errorFields(error),
        });
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
