/**
 * The webhook stage of `email.created`: Clerk's own emails (codes, magic
 * links, invitations) delivered through Resend inside the webhook request,
 * since a code is useless minutes later and cannot wait for a queue.
 *
 * Whatever the feature's state, the data it returns (what the webhook
 * forwards to Inngest) is the redacted copy. With the feature on, an email
 * that Clerk hands to the app is sent (`delivery.ts`) and recorded before
 * the webhook answers; one that Clerk delivers itself is only recorded.
 * While the settings are invalid, an email for the app to deliver gets 503,
 * so that Svix retries it once they are fixed; every other event flows.
 */
import type { ClerkEmail } from "../clerk/email_schemas.ts";
import type { WebhookStage } from "../feature/feature.ts";
import { HttpError } from "../http/http_error.ts";
import type { Mailer } from "../email/mailer.ts";
import type { AuthEmailSettings } from "../settings.ts";
import type { FeatureGroup } from "../settings/features.ts";
import { withDeadline } from "../util/deadline.ts";
import { lazy } from "../util/lazy.ts";
import { errorFields, type Logger } from "../util/log.ts";
import type { AuthEmailEntry, AuthEmailLedger } from "./ledger.ts";
import { redactEmail } from "./redact.ts";

/** What the stage is built from. */
export interface AuthEmailStageDeps {
  /** The feature's settings: off, invalid, or on. */
  readonly settings: FeatureGroup<AuthEmailSettings>;
  /** `public.email_deliveries`; resolved on the first email to record. */
  readonly ledger: () => Promise<AuthEmailLedger>;
  /** Resend; resolved on the first email to send. */
  readonly mailer: () => Promise<Mailer>;
  readonly logger: Logger;
  /** Bound on Resend's answer. Default {@link RESEND_DEADLINE_MS}. */
  readonly resendDeadlineMs?: number;
  /** Bound on each ledger call. Default {@link LEDGER_DEADLINE_MS}. */
  readonly ledgerDeadlineMs?: number;
}

/** Resend gets at most 10 s: Svix gives up on an answer after 15. */
export const RESEND_DEADLINE_MS = 10_000;

/** A ledger call gets at most 2 s: the email matters more than its row. */
export const LEDGER_DEADLINE_MS = 2_000;

/** The Clerk event type the stage runs for. */
export const EMAIL_CREATED = "email.created";

/** Builds the stage; it runs in every state of the feature, since it is what redacts. */
export function createAuthEmailStage(deps: AuthEmailStageDeps): WebhookStage {
  const { settings } = deps;
  const ledgerMs = deps.ledgerDeadlineMs ?? LEDGER_DEADLINE_MS;
  // Loaded with the first email to send: other events never load it.
  const delivery = lazy(() => import("./delivery.ts"));
  const withLedger = <T>(use: (ledger: AuthEmailLedger) => Promise<T>) =>
    withDeadline(deps.ledger().then(use), ledgerMs, "The database did not answer in time");
  return {
    type: EMAIL_CREATED,
    run: async (event) => {
      const forwarded = redactEmail(event.data);
      if (settings.ok && settings.value === undefined) return forwarded;

      const email = event.data as Partial<ClerkEmail>;
      const ids = { svixId: event.id, userId: text(email.user_id), slug: text(email.slug) };
      const log = deps.logger.child({
        svix_id: event.id,
        email_slug: ids.slug ?? undefined,
        user_id: ids.userId ?? undefined,
      });
      const record = async (entry: Omit<AuthEmailEntry, keyof typeof ids>) => {
        try {
          await withLedger((ledger) => ledger.record({ ...ids, ...entry }));
        } catch (error) {
          // The email matters more than its row: log, and answer as if written.
          log.error("Clerk's email not recorded in public.email_deliveries", {
            status: entry.status,
            ...errorFields(error),
          });
        }
      };

      if (email.delivered_by_clerk === true) {
        if (settings.ok) await record({ status: "skipped", error: "Delivered by Clerk" });
        log.info("Clerk's email left to Clerk: its template is delivered by Clerk");
        return forwarded;
      }
      if (!settings.ok) {
        const problems = settings.problems.join("; ");
        log.error("Clerk's email not sent: the settings are invalid; Svix will retry", {
          problems,
        });
        throw new HttpError(503, "not_configured", `Not configured: ${problems}`);
      }
      const { deliverAuthEmail } = await delivery();
      await deliverAuthEmail({
        event,
        email,
        settings: settings.value!,
        mailer: deps.mailer,
        status: () => withLedger((ledger) => ledger.status(event.id)),
        record,
        log,
        deadlineMs: deps.resendDeadlineMs ?? RESEND_DEADLINE_MS,
      });
      return forwarded;
    },
  };
}

/** `value` when it is a non-empty string, else null. */
function text(value: unknown): string | null {
  return typeof value === "string" && value ? value : null;
}
