/**
 * The newsletter's part of `reconcile-users-with-clerk`: a webhook that
 * carried a consent can be lost, and then only the reconcile shows it.
 * `newsletter-consent-from-<offset>` lists `GET /v1/users` pages (oldest
 * first, as the users' part does) and records each user's current consent
 * state, for users who consent or whom the newsletter already knows. A
 * state newer than the provider's last sync is picked up by the hourly
 * sweep, which brings the provider in line.
 */
import type { ClerkBackendApi } from "../clerk/backend_api.ts";
import { primaryEmail } from "../clerk/primary_email.ts";
import type { ReconcilePart } from "../reconcile/reconcile_part.ts";
import { hasConsent } from "./consent.ts";
import type { ConsentEvent, NewsletterStore } from "./store.ts";

/** What the newsletter's part needs. */
export interface NewsletterReconcileDeps {
  readonly clerk: () => Promise<ClerkBackendApi>;
  readonly store: () => Promise<NewsletterStore>;
}

/** The newsletter's part of the reconcile. */
export function createNewsletterReconcilePart(deps: NewsletterReconcileDeps): ReconcilePart {
  return {
    name: "newsletter",
    async run(guarded, run) {
      for (let offset: number | null = 0; offset !== null;) {
        const from: number = offset;
        offset = await guarded(
          `newsletter-consent-from-${from}`,
          `Cannot reconcile newsletter consent at offset ${from}`,
          async () => {
            const clerk = await deps.clerk();
            let at = from;
            for (let page = 0; page < run.pagesPerStep; page++) {
              const users = await clerk.listUsers({
                limit: run.pageSize,
                offset: at,
                orderBy: "+created_at",
              });
              const states: ConsentEvent[] = users.map((user) => ({
                userId: user.id,
                consent: hasConsent(user),
                at: new Date(user.updated_at).toISOString(),
                address: primaryEmail(user),
              }));
              if (!run.dryRun && states.length) await (await deps.store()).observeMany(states);
              at += users.length;
              if (users.length < run.pageSize) return null;
            }
            return at;
          },
        );
      }
    },
  };
}
