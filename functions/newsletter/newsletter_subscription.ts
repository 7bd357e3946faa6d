/**
 * `newsletter-subscription`: keeps the newsletter's provider (Mailchimp or
 * Resend's contacts) in line with the Clerk user's consent and every
 * opt-out, whatever the order, delay or interleaving of its runs.
 *
 * Each run first records what its event says, then brings the provider in
 * line with what the database wants *now* (`sync-provider`):
 *
 * - `clerk/user.created`, `clerk/user.updated`: `record` keeps the Clerk
 *   state (consent only with `unsafe_metadata.newsletter === true`) at its
 *   `updated_at`; consent counts when it changed to true after the latest
 *   opt-out, on Clerk's order, not the order of arrival.
 * - `clerk/user.deleted`: `erase` tombstones the user, erases the address
 *   and queues its removal at the provider (the deletion of the user row
 *   does the same, whichever path made it).
 * - `clerk-events/newsletter.unsubscribe.requested`: a nudge, after an
 *   opt-out of ours or from the sweep; it only syncs.
 *
 * `sync-provider` is one step: it reads what is wanted, calls the provider
 * and records what the provider now holds. Steps of one user never run at
 * once (the concurrency key counts steps, not runs), so no other run acts
 * between the read and the call: a run never carries a plan made before
 * another run changed things. Before a call the record says "unknown", so
 * that a call whose answer was lost is made again, whatever is wanted next.
 *
 * `newsletter-unsubscribe-sweep` (hourly) nudges every user the provider may
 * not be in line with: an opt-out not confirmed, a removal that has not
 * succeeded yet (it is retried until it does), a consent recorded since
 * the last sync.
 *
 * Provider failures are read by the shared classifier: 429 waits for the
 * provider's retry-after, a refused key retries with a long back-off, other
 * transient failures retry on Inngest's schedule, and a refusal no retry
 * can fix is final (the sweep tries again later).
 */
import type { Inngest } from "inngest";
import { clerkDeletedUserSchema, clerkUserSchema } from "../clerk/schemas.ts";
import { userCreated, userDeleted, userUpdated } from "../inngest/events.ts";
import { newsletterUnsubscribeRequested } from "./events.ts";
import type { NewsletterContact, NewsletterProvider } from "./provider.ts";
import { ProviderError } from "./provider.ts";
import type { ConsentEvent, NewsletterStore } from "./store.ts";
import { hasConsent } from "./consent.ts";

export { hasConsent } from "./consent.ts";
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
      let userId: string;
      let names: Names | undefined;
      if (event.name === userDeleted.name) {
        const { id } = parseInput(clerkDeletedUserSchema, event.data, "Cannot remove subscriber");
        userId = id;
        const deletedAt = new Date(event.ts ?? Date.now()).toISOString();
        await step.run(
          "erase",
          () =>
            stored(deps, `Cannot erase subscriber "${id}"`, (s) => s.erase(id, deletedAt)).then(
              () => "erased",
            ),
        );
      } else if (event.name === newsletterUnsubscribeRequested.name) {
        userId = String((event.data as { id: string }).id);
      } else {
        const user = parseInput(clerkUserSchema, event.data, "Cannot sync newsletter");
        userId = user.id;
        names = { firstName: user.first_name, lastName: user.last_name };
        const consent: ConsentEvent = {
          userId: user.id,
          consent: hasConsent(event.data),
          at: new Date(user.updated_at).toISOString(),
          address: primaryEmail(user),
        };
        await step.run("record", () =>
          stored(
            deps,
            `Cannot record newsletter consent of user "${user.id}"`,
            (s) => s.observe(consent),
          ));
      }
      const id = userId;
      const outcome = await step.run("sync-provider", () => syncProvider(deps, id, names));
      deps.logger.info("Newsletter synced", {
        user_id: id,
        event: event.name,
        event_id: event.id,
        outcome,
      });
      return { userId: id, outcome };
    },
  );
}

/** A user's names, from the event when it has them. */
interface Names {
  readonly firstName: string | null;
  readonly lastName: string | null;
}

/** One store call; a database failure becomes Inngest's retry decision. */
async function stored<T>(
  deps: NewsletterDeps,
  action: string,
  fn: (s: NewsletterStore) => Promise<T>,
): Promise<T> {
  try {
    return await fn(await deps.store());
  } catch (error) {
    throw databaseFailure(action, error);
  }
}

/**
 * Brings the provider in line with what is wanted now: removals first,
 * then the subscription at the newest address, or its end. Returns what it
 * did, e.g. `subscribed`, `unsubscribed`, `removed 1`, `in line`.
 */
async function syncProvider(
  deps: NewsletterDeps,
  userId: string,
  names: Names | undefined,
): Promise<string> {
  const action = `Cannot bring the newsletter in line for user "${userId}"`;
  const db = <T>(fn: (s: NewsletterStore) => Promise<T>) => stored(deps, action, fn);
  const call = <T>(fn: (p: NewsletterProvider) => Promise<T>) =>
    callProvider(deps, action, userId, fn);
  const done: string[] = [];

  const removals = await db((s) => s.removals(userId));
  for (const address of removals) {
    await call((p) => p.remove(address));
    await db((s) => s.removalDone(userId, address));
  }
  if (removals.length) done.push(`removed ${removals.length}`);

  const wanted = await db((s) => s.wanted(userId));
  if (wanted.erased) return done.join(", ") || "deleted";
  const { address, provider_address: known, read_at: readAt } = wanted;
  let subscribed = wanted.provider_subscribed;
  if (wanted.subscribe && address) {
    const contact: NewsletterContact = {
      email: address,
      firstName: names ? names.firstName : wanted.first_name,
      lastName: names ? names.lastName : wanted.last_name,
    };
    if (known && known.toLowerCase() !== address.toLowerCase()) {
      done.push(await call((p) => p.move(known, contact)));
      await db((s) => s.providerDone(userId, address, subscribed, readAt));
    }
    if (subscribed !== true) {
      await db((s) => s.providerDone(userId, address, null, readAt));
      // Unless the record says so, the provider is not holding them
      // subscribed because of us: consent given now brings them back
      // (Mailchimp: pending, double opt-in).
      const outcome = await call((p) => p.subscribe(contact, { renewed: subscribed === false }));
      subscribed = outcome !== "kept_unsubscribed";
      if (!subscribed) await db((s) => s.providerKeptOut(userId));
      done.push(outcome);
    }
    await db((s) => s.providerDone(userId, address, subscribed, readAt));
  } else if (known && subscribed !== false) {
    await db((s) => s.providerDone(userId, known, null, readAt));
    done.push(await call((p) => p.unsubscribe(known)));
    await db((s) => s.providerDone(userId, known, false, readAt));
  } else {
    await db((s) => s.providerDone(userId, known, false, readAt));
  }
  return done.join(", ") || "in line";
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
