/**
 * `newsletter-subscription`: keeps the newsletter's provider (Mailchimp or
 * Resend's contacts) in line with the Clerk user's consent and every
 * opt-out, one run per user at a time (concurrency on the user id, shared
 * by all four triggers).
 *
 * - `clerk/user.created`, `clerk/user.updated`: plan from the stored state
 *   (consent only with `unsafe_metadata.newsletter === true`; an opt-out
 *   stays until Clerk shows the value changed to true after it), carry the
 *   plan out at the provider, then record it. A replay of a run that failed
 *   in between plans the same again.
 * - `clerk/user.deleted`: tombstone, remove at the provider for good, then
 *   erase the address.
 * - `clerk-events/newsletter.unsubscribe.requested`: an opt-out of ours
 *   waiting in the database reaches the provider.
 *
 * `newsletter-unsubscribe-sweep` (hourly) re-sends that nudge for every
 * opt-out still pending, so that an opt-out recorded while Inngest could not
 * be reached is not lost.
 *
 * Each provider call is its own step: 429 waits for the provider's
 * retry-after (RetryAfterError), other transient failures retry on
 * Inngest's schedule, and a refusal that no retry can fix is final.
 */
import type { Inngest } from "inngest";
import { z } from "zod";
import { clerkDeletedUserSchema, clerkUserSchema } from "../clerk/schemas.ts";
import { userCreated, userDeleted, userUpdated } from "../inngest/events.ts";
import { newsletterUnsubscribeRequested } from "./events.ts";
import type { NewsletterContact, NewsletterProvider } from "./provider.ts";
import { ProviderError } from "./provider.ts";
import type { ConsentEvent, NewsletterStore } from "./store.ts";
import { primaryEmail } from "../clerk/primary_email.ts";
import { errorFields, type Logger } from "../util/log.ts";
import { databaseFailure, parseInput, providerFailure } from "../inngest/step_errors.ts";

/** The function ids. */
export const NEWSLETTER_FUNCTION_ID = "newsletter-subscription";
export const NEWSLETTER_SWEEP_FUNCTION_ID = "newsletter-unsubscribe-sweep";

/**
 * Steps of the function in flight at once, across users: each makes at most
 * one provider request at a time, so this stays under Mailchimp's 10
 * concurrent connections, with room for other clients of the account.
 */
export const NEWSLETTER_MAX_CONCURRENCY = 8;

/** The sweep's schedule: hourly, off the hour. */
export const NEWSLETTER_SWEEP_CRON = "TZ=UTC 23 * * * *";

/** Dependencies, resolved when a step needs them. */
export interface NewsletterDeps {
  readonly provider: () => Promise<NewsletterProvider>;
  readonly store: () => Promise<NewsletterStore>;
  readonly logger: Logger;
}

const consentSchema = z.looseObject({
  unsafe_metadata: z.looseObject({ newsletter: z.unknown().optional() }).nullable().optional(),
});

/** Whether the Clerk user consents: `unsafe_metadata.newsletter === true`, nothing else. */
export function hasConsent(data: unknown): boolean {
  const parsed = consentSchema.safeParse(data);
  return parsed.success && parsed.data.unsafe_metadata?.newsletter === true;
}

/** Creates `newsletter-subscription` on `client`. */
export function createNewsletterFunction(client: Inngest, deps: NewsletterDeps) {
  return client.createFunction(
    {
      id: NEWSLETTER_FUNCTION_ID,
      name: "Newsletter subscription",
      triggers: [userCreated, userUpdated, userDeleted, newsletterUnsubscribeRequested],
      concurrency: [
        { key: "event.data.id", limit: 1 },
        // Mailchimp answers 429 past 10 concurrent connections per account.
        { limit: NEWSLETTER_MAX_CONCURRENCY },
      ],
      retries: 10,
    },
    async ({ event, step }) => {
      const store = async <T>(action: string, fn: (s: NewsletterStore) => Promise<T>) => {
        try {
          return await fn(await deps.store());
        } catch (error) {
          throw databaseFailure(action, error);
        }
      };
      const provider = <T>(
        action: string,
        userId: string,
        fn: (p: NewsletterProvider) => Promise<T>,
      ) => callProvider(deps, action, userId, fn);

      if (event.name === userDeleted.name) {
        const { id } = parseInput(clerkDeletedUserSchema, event.data, "Cannot remove subscriber");
        const deletedAt = new Date(event.ts ?? Date.now()).toISOString();
        const removed = await step.run("remove-at-provider", async () => {
          const address = await store(
            `Cannot remove subscriber "${id}"`,
            (s) => s.eraseBegin(id, deletedAt),
          );
          if (!address) return "nothing to remove";
          return await provider(`Cannot remove subscriber "${id}"`, id, (p) => p.remove(address));
        });
        if (removed !== "nothing to remove") {
          await step.run(
            "erase-address",
            () => store(`Cannot erase subscriber "${id}"`, (s) => s.eraseDone(id)),
          );
        }
        deps.logger.info("Newsletter subscriber removed", { user_id: id, outcome: removed });
        return { userId: id, action: "remove", outcome: removed };
      }

      if (event.name === newsletterUnsubscribeRequested.name) {
        const id = String((event.data as { id: string }).id);
        const outcome = await step.run("unsubscribe-at-provider", async () => {
          const action = `Cannot unsubscribe "${id}"`;
          const address = await store(action, (s) => s.pendingUnsubscribe(id));
          if (!address) return "nothing pending";
          const done = await provider(action, id, (p) => p.unsubscribe(address));
          await store(action, (s) => s.unsubscribeConfirmed(id, address));
          return done;
        });
        deps.logger.info("Newsletter opt-out sent to the provider", { user_id: id, outcome });
        return { userId: id, action: "unsubscribe", outcome };
      }

      const user = parseInput(clerkUserSchema, event.data, "Cannot sync newsletter");
      const consent: ConsentEvent = {
        userId: user.id,
        consent: hasConsent(event.data),
        at: new Date(user.updated_at).toISOString(),
        address: primaryEmail(user),
      };
      const action = `Cannot sync newsletter for user "${user.id}"`;
      const plan = await step.run("plan", () => store(action, (s) => s.plan(consent)));
      const contact: NewsletterContact = {
        email: plan.address ?? "",
        firstName: user.first_name,
        lastName: user.last_name,
      };
      let outcome: string = plan.reason;
      if (plan.action === "subscribe" || plan.action === "move") {
        const previous = plan.previous_address;
        if (previous && previous.toLowerCase() !== contact.email.toLowerCase()) {
          outcome = await step.run(
            "move-at-provider",
            () => provider(action, user.id, (p) => p.move(previous, contact)),
          );
        }
        if (plan.action === "subscribe") {
          outcome = await step.run(
            "subscribe-at-provider",
            () => provider(action, user.id, (p) => p.subscribe(contact, { renewed: true })),
          );
        }
      } else if (plan.action === "unsubscribe" && plan.address) {
        const address = plan.address;
        outcome = await step.run(
          "unsubscribe-at-provider",
          () => provider(action, user.id, (p) => p.unsubscribe(address)),
        );
      }
      if (plan.reason !== "stale" && plan.reason !== "deleted") {
        await step.run("record", () => store(action, (s) => s.commit(consent, plan)));
      }
      deps.logger.info("Newsletter synced", {
        user_id: user.id,
        event: event.name,
        event_id: event.id,
        action: plan.action,
        reason: plan.reason,
        outcome,
      });
      return { userId: user.id, action: plan.action, reason: plan.reason, outcome };
    },
  );
}

/** Creates `newsletter-unsubscribe-sweep` on `client`. */
export function createNewsletterSweepFunction(client: Inngest, deps: NewsletterDeps) {
  return client.createFunction(
    {
      id: NEWSLETTER_SWEEP_FUNCTION_ID,
      name: "Newsletter opt-outs still pending",
      triggers: [{ cron: NEWSLETTER_SWEEP_CRON }],
      singleton: { mode: "skip" },
      retries: 3,
    },
    async ({ step }) => {
      const ids = await step.run("find-pending", async () => {
        try {
          return await (await deps.store()).pendingUnsubscribes(500);
        } catch (error) {
          throw databaseFailure("Cannot list pending newsletter opt-outs", error);
        }
      });
      if (ids.length) {
        await step.sendEvent(
          "nudge",
          ids.map((id) => newsletterUnsubscribeRequested.create({ id })),
        );
      }
      return { pending: ids.length };
    },
  );
}

/** Runs one provider call, turning its failure into Inngest's retry decision. */
async function callProvider<T>(
  deps: NewsletterDeps,
  action: string,
  userId: string,
  fn: (provider: NewsletterProvider) => Promise<T>,
): Promise<T> {
  const provider = await deps.provider();
  try {
    return await fn(provider);
  } catch (error) {
    const fields = { user_id: userId, provider: provider.name, ...errorFields(error) };
    if (!(error instanceof ProviderError)) {
      deps.logger.warn("Newsletter provider call failed; will retry", fields);
      throw new Error(`${action}: ${error instanceof Error ? error.message : String(error)}`, {
        cause: error,
      });
    }
    if (error.kind === "permanent") {
      deps.logger.error("Newsletter provider refused the call", fields);
    } else {deps.logger.warn("Newsletter provider call failed; will retry", {
        ...fields,
        kind: error.kind,
      });}
    throw providerFailure(action, error);
  }
}
