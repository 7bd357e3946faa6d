/**
 * `POST /clerk-events/resend-webhook`: Resend's delivery events, signed with
 * Svix, update the email they name in `public.email_deliveries`; a spam
 * complaint or a permanent bounce also opts the user out of marketing email.
 * A contact's `contact.updated` with `unsubscribed: true` records their
 * opt-out of the newsletter (when it runs on Resend's contacts).
 *
 * Verification, the size limit and their answers are the Clerk webhook's
 * (see `signed_delivery.ts`). Events for emails we do not know (other apps
 * on the same Resend account) and events about anything but a sent email
 * are answered 200 and recorded nowhere. A database failure is a 503, so
 * that Resend retries; repeating an event changes nothing.
 */
import { errorFields, type Logger } from "../util/log.ts";
import { issuesText } from "../util/zod_issues.ts";
import type { Verifier } from "../svix/verify.ts";
import type { EmailPreferencesStore } from "../email/preferences_store.ts";
import { InvalidResendEvent, toDeliveryEvent } from "./resend_events.ts";
import { HttpError, json } from "../http/http_error.ts";
import { invalidPayload, parseJsonBody, receiveSignedDelivery } from "../http/signed_delivery.ts";

/** Options for {@link createResendWebhookHandler}. */
export interface ResendWebhookOptions {
  readonly verify: Verifier;
  /** Resolved only for a verified delivery event. */
  readonly preferences: () => Promise<EmailPreferencesStore>;
  readonly logger: Logger;
  readonly maxBodyBytes?: number;
}

const LABEL = "Resend webhook";

/** Creates the handler. It throws HttpError for every non-2xx answer. */
export function createResendWebhookHandler(options: ResendWebhookOptions) {
  const { logger } = options;
  return async (req: Request): Promise<Response> => {
    const { body, headers } = await receiveSignedDelivery(req, {
      verify: options.verify,
      logger,
      maxBodyBytes: options.maxBodyBytes,
      label: LABEL,
    });
    const svixId = headers.id;
    const reject = (message: string): never =>
      invalidPayload(logger, message, { label: LABEL, svixId, what: "not a Resend event" });
    let event;
    try {
      event = toDeliveryEvent(parseJsonBody(body, reject), issuesText);
    } catch (error) {
      if (error instanceof InvalidResendEvent) return reject(error.message);
      throw error;
    }
    if ("ignored" in event) {
      logger.info("Resend event ignored", { svix_id: svixId, event: event.ignored });
      return json(200, { status: "ignored", id: svixId });
    }
    if ("contactOptOut" in event) {
      let outcome;
      try {
        outcome = await (await options.preferences()).recordNewsletterOptOut(
          event.contactOptOut,
          "resend",
        );
      } catch (error) {
        logger.error("Resend contact opt-out not recorded", {
          svix_id: svixId,
          ...errorFields(error),
        });
        throw new HttpError(503, "database_unavailable", "Cannot record the event now; retry", {
          cause: error,
        });
      }
      logger.info("Resend contact opt-out recorded", { svix_id: svixId, outcome });
      return json(200, { status: outcome, id: svixId });
    }

    let outcome;
    try {
      outcome = await (await options.preferences()).recordEvent(event);
    } catch (error) {
      logger.error("Resend event not recorded", { svix_id: svixId, ...errorFields(error) });
      throw new HttpError(503, "database_unavailable", "Cannot record the event now; retry", {
        cause: error,
      });
    }
    logger.info("Resend event recorded", {
      svix_id: svixId,
      event: event.event,
      resend_id: event.resendId,
      outcome,
      opt_out: outcome === "unknown" ? undefined : event.optOut,
    });
    return json(200, { status: outcome, id: svixId });
  };
}
