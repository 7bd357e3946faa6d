/**
 * `GET, POST /clerk-events/mailchimp-webhook?secret=…`: Mailchimp's audience
 * webhook. Its posts are unsigned forms, so the URL carries a secret
 * (`MAILCHIMP_WEBHOOK_SECRET`), compared in constant time; a wrong or
 * missing one is a 401 on GET and POST alike, and changes nothing.
 *
 * - `GET` is Mailchimp's check that the URL answers when the webhook is
 *   saved: 200.
 * - `POST` with `type=unsubscribe` or `type=cleaned` records the newsletter
 *   opt-out (`mailchimp_unsubscribe`, `mailchimp_cleaned`) of the
 *   subscriber whose address it names. Other types, other audiences and
 *   addresses we do not know get 200 and change nothing. A database failure
 *   is a 503, so that Mailchimp tries again.
 */
import type { EmailPreferencesStore, NewsletterOptOutSource } from "../email/preferences_store.ts";
import { errorFields, type Logger } from "../util/log.ts";
import { isOneOf } from "../http/bearer.ts";
import { HttpError, json } from "../http/http_error.ts";
import { readBodyText } from "../http/read_body.ts";

/** Options for {@link createMailchimpWebhookHandler}. */
export interface MailchimpWebhookOptions {
  /** Every accepted secret (several during a rotation). */
  readonly secrets: readonly string[];
  /** Posts about other audiences are ignored. */
  readonly audienceId: string;
  /** Resolved only for a post that records an opt-out. */
  readonly preferences: () => Promise<EmailPreferencesStore>;
  readonly logger: Logger;
}

/** Mailchimp's posts are a few KiB; anything larger is not one. */
const MAX_FORM_BYTES = 64 * 1024;

const SOURCES: Readonly<Record<string, NewsletterOptOutSource>> = {
  unsubscribe: "mailchimp_unsubscribe",
  cleaned: "mailchimp_cleaned",
};

/** Creates the handler. It throws HttpError for every non-2xx answer. */
export function createMailchimpWebhookHandler(options: MailchimpWebhookOptions) {
  const { logger } = options;
  return async (req: Request): Promise<Response> => {
    if (req.method !== "GET" && req.method !== "POST" && req.method !== "HEAD") {
      await req.body?.cancel();
      throw new HttpError(405, "method_not_allowed", "Use GET or POST", {
        headers: { allow: "GET, POST" },
      });
    }
    const secret = new URL(req.url).searchParams.get("secret") ?? "";
    if (!secret || !(await isOneOf(secret, options.secrets))) {
      await req.body?.cancel();
      logger.warn("Mailchimp webhook rejected: wrong or missing secret", { method: req.method });
      throw new HttpError(401, "unauthorized", "Wrong or missing secret");
    }
    if (req.method !== "POST") return json(200, { status: "ok" });

    const form = new URLSearchParams(await readBodyText(req, MAX_FORM_BYTES));
    const type = form.get("type") ?? "";
    const source = SOURCES[type];
    const listId = form.get("data[list_id]");
    const email = form.get("data[email]") ?? "";
    if (!source || listId !== options.audienceId || !email) {
      logger.info("Mailchimp webhook ignored", {
        type: type || null,
        other_audience: listId !== options.audienceId,
      });
      return json(200, { status: "ignored" });
    }
    let outcome;
    try {
      outcome = await (await options.preferences()).recordNewsletterOptOut(email, source);
    } catch (error) {
      logger.error("Mailchimp opt-out not recorded", { type, ...errorFields(error) });
      throw new HttpError(503, "database_unavailable", "Cannot record the opt-out now; retry", {
        cause: error,
      });
    }
    logger.info("Mailchimp opt-out recorded", { type, source, outcome });
    return json(200, { status: outcome });
  };
}
