/**
 * Sends one of Clerk's emails through Resend, inside the webhook request,
 * and decides the webhook's answer.
 *
 * - One send, from `AUTH_EMAIL_FROM`, with the idempotency key
 *   `clerk-email/<svix-id>`: every Svix retry of the delivery reuses it, so
 *   Resend sends the email once however often the webhook runs.
 * - Resend gets {@link RESEND_DEADLINE_MS}; past it the request is abandoned.
 * - Resend's failures are read by the shared classifier
 *   (`../util/provider_failure.ts`, through the mailer's error kinds). A
 *   timeout, a 429, a 5xx or a refused key throws a 5xx `HttpError` (with
 *   `Retry-After` when Resend gave one), so that Svix retries under the same
 *   key; a permanent refusal (a 422 invalid address, say) returns: a retry
 *   cannot help, and the row says `failed`.
 * - Resend forgets a key after 24 hours while Svix retries for about 28:
 *   past {@link LEDGER_CHECK_AFTER_MS} since Clerk's event, the ledger is
 *   read first, and an email it already finished is not sent again.
 *
 * Nothing of the message (subject, bodies, address) reaches a log line or
 * the ledger: Resend's refusals are recorded with addresses masked.
 */
import type { ClerkEmail } from "../clerk/email_schemas.ts";
import type { DeliveryStatus } from "../email/deliveries_store.ts";
import { type EmailMessage, type Mailer, MailerError } from "../email/mailer.ts";
import type { ForwardedEvent } from "../feature/feature.ts";
import { HttpError } from "../http/http_error.ts";
import type { AuthEmailSettings } from "../settings.ts";
import { DeadlineError, withDeadline } from "../util/deadline.ts";
import { errorFields, type Logger } from "../util/log.ts";
import type { AuthEmailEntry } from "./ledger.ts";

/** Resend keeps an idempotency key for 24 hours; an hour's margin for the two clocks. */
export const LEDGER_CHECK_AFTER_MS = 23 * 60 * 60 * 1000;

/** The idempotency key of the email that webhook `svixId` carried: the same on every retry. */
export function authEmailIdempotencyKey(svixId: string): string {
  return `clerk-email/${svixId}`;
}

/** One delivery, as the stage hands it over. */
export interface AuthEmailDelivery {
  readonly event: ForwardedEvent;
  readonly email: Partial<ClerkEmail>;
  readonly settings: AuthEmailSettings;
  readonly mailer: () => Promise<Mailer>;
  /** The ledger's status for this email; may reject. */
  readonly status: () => Promise<DeliveryStatus | undefined>;
  /** Records the outcome; never rejects (failures are logged). */
  readonly record: (entry: Omit<AuthEmailEntry, "svixId" | "userId" | "slug">) => Promise<void>;
  readonly log: Logger;
  readonly deadlineMs: number;
  /** Now, epoch ms. Default `Date.now`. */
  readonly now?: () => number;
}

/**
 * Sends the email, or records why not. Returns when the webhook may answer
 * 2xx; throws HttpError (5xx) when Svix should retry.
 */
export async function deliverAuthEmail(delivery: AuthEmailDelivery): Promise<void> {
  const { email, settings, record, log } = delivery;
  const missing = missingPart(email);
  if (missing) {
    await record({ status: "failed", error: `Clerk's email has no ${missing}` });
    log.error("Clerk's email not sent: it has no " + missing);
    return;
  }
  if (settings.dryRun) {
    await record({ status: "dry_run" });
    log.info("Clerk's email recorded without sending (EMAIL_DRY_RUN)");
    return;
  }
  if ((delivery.now ?? Date.now)() - delivery.event.ts > LEDGER_CHECK_AFTER_MS) {
    const earlier = await delivery.status().catch((error) => {
      log.warn("Cannot read the ledger before a late send; sending", errorFields(error));
      return undefined;
    });
    if (earlier && earlier !== "pending") {
      log.info("Clerk's email already handled by an earlier delivery", { status: earlier });
      return;
    }
  }

  const message: EmailMessage = {
    from: settings.from,
    to: email.to_email_address!,
    subject: email.subject!,
    html: email.body!,
    ...(typeof email.body_plain === "string" ? { text: email.body_plain } : {}),
  };
  const abandon = new AbortController();
  const started = performance.now();
  const sending = delivery.mailer().then((mailer) =>
    mailer.send(message, authEmailIdempotencyKey(delivery.event.id), { signal: abandon.signal })
  );
  let resendId: string;
  try {
    resendId = (await withDeadline(
      sending,
      delivery.deadlineMs,
      `Resend did not answer within ${delivery.deadlineMs / 1000} s`,
    )).id;
  } catch (error) {
    if (error instanceof DeadlineError) {
      // The abandoned send settles as a failure that nobody awaits.
      sending.catch(() => {});
      abandon.abort(error);
    }
    return await failed(delivery, error);
  }
  await record({ status: "sent", resendId });
  log.info("Clerk's email sent through Resend", {
    resend_id: resendId,
    duration_ms: Math.round(performance.now() - started),
  });
}

/** Records a failed send and answers: 2xx for a permanent refusal, else a 5xx for Svix to retry. */
async function failed(delivery: AuthEmailDelivery, error: unknown): Promise<void> {
  const { record, log } = delivery;
  const reason = String(errorFields(error).error);
  if (error instanceof MailerError && error.kind === "already_sent") {
    await record({
      status: "sent",
      error: "Sent on an earlier attempt under the same idempotency key",
    });
    log.info("Clerk's email was already sent on an earlier attempt");
    return;
  }
  if (error instanceof MailerError && error.kind === "permanent") {
    await record({ status: "failed", error: reason });
    log.error("Clerk's email refused by Resend for good; not retried", {
      status_code: error.status,
      ...errorFields(error),
    });
    return;
  }
  await record({ status: "pending", error: reason });
  const retryAfter = error instanceof MailerError && error.retryAfterMs !== undefined
    ? { "retry-after": String(Math.ceil(error.retryAfterMs / 1000)) }
    : undefined;
  const fields = {
    status_code: error instanceof MailerError ? error.status : undefined,
    retry_after: retryAfter?.["retry-after"],
    ...errorFields(error),
  };
  log.error("Clerk's email not sent; Svix will retry under the same key", fields);
  const answer = retryAnswer(error);
  throw new HttpError(answer.status, answer.code, answer.message, {
    headers: retryAfter,
    cause: error,
  });
}

/** The 5xx for a send worth retrying. */
function retryAnswer(error: unknown): { status: number; code: string; message: string } {
  if (error instanceof DeadlineError) {
    return { status: 504, code: "resend_timeout", message: `${error.message}; retry` };
  }
  if (error instanceof MailerError && error.kind === "rate_limited") {
    return { status: 503, code: "resend_rate_limited", message: "Resend rate limited the email" };
  }
  if (error instanceof MailerError && error.kind === "auth") {
    return {
      status: 503,
      code: "resend_unauthorized",
      message: "Resend refused RESEND_API_KEY; retry once it is fixed",
    };
  }
  return { status: 502, code: "resend_unavailable", message: "Resend did not accept the email" };
}

/** The part of Clerk's email that Resend cannot do without, if one is missing. */
function missingPart(email: Partial<ClerkEmail>): string | undefined {
  if (typeof email.to_email_address !== "string" || !email.to_email_address) return "recipient";
  if (typeof email.subject !== "string" || !email.subject) return "subject";
  if (typeof email.body !== "string" || !email.body) return "body";
  return undefined;
}
