/**
 * The mailer over the Resend SDK. Import it lazily: the webhook path never
 * needs it.
 */
import { Resend } from "resend";
import { failureKind, parseRetryAfter } from "../util/provider_failure.ts";
import { type Mailer, MailerError, type MailerErrorKind } from "./mailer.ts";

/** Options for {@link createResendMailer}. */
export interface ResendMailerOptions {
  readonly apiKey: string;
  /** Defaults to Resend's API; tests point it at a local stand-in. */
  readonly baseUrl?: string;
}

/** A {@link Mailer} that sends through Resend with idempotency keys. */
export function createResendMailer(options: ResendMailerOptions): Mailer {
  const resend = new Resend(options.apiKey, { baseUrl: options.baseUrl });
  return {
    async send(message, idempotencyKey, sendOptions = {}) {
      const { data, error, headers } = await resend.emails.send(
        {
          from: message.from,
          to: message.to,
          subject: message.subject,
          html: message.html,
          ...(message.text === undefined ? {} : { text: message.text }),
          ...(message.headers ? { headers: { ...message.headers } } : {}),
        },
        { idempotencyKey, signal: sendOptions.signal },
      );
      if (data?.id) return { id: data.id };
      const status = (error as { statusCode?: number | null } | null)?.statusCode ?? null;
      const name = error?.name ?? "unknown_error";
      throw new MailerError(`Resend refused the email: ${name}: ${error?.message ?? "no detail"}`, {
        kind: classify(status, name),
        status,
        retryAfterMs: parseRetryAfter(headers?.["retry-after"]),
      });
    },
  };
}

function classify(status: number | null, name: string): MailerErrorKind {
  // Same key, different payload: Resend already accepted an email under
  // this key (a retry after a crash whose content changed in between).
  if (status === 409 && name === "invalid_idempotent_request") return "already_sent";
  return failureKind(status);
}
