/**
 * Sending one email, whatever the provider.
 */
import type { FailureKind } from "../util/provider_failure.ts";

/** An email ready to send. */
export interface EmailMessage {
  readonly from: string;
  readonly to: string;
  readonly subject: string;
  readonly html: string;
  /** The plain-text part; without it, Resend derives one from the HTML. */
  readonly text?: string;
  /** Extra headers, e.g. RFC 8058's `List-Unsubscribe` on marketing email. */
  readonly headers?: Readonly<Record<string, string>>;
}

/** Options of one send. */
export interface SendOptions {
  /** Abandons the request: the send then fails as a transient error. */
  readonly signal?: AbortSignal;
}

/** Sends emails. */
export interface Mailer {
  /**
   * Sends `message` at most once per `idempotencyKey`: repeating a call with
   * the same key does not send a second email. Returns the provider's id.
   * Throws {@link MailerError} when the provider refuses.
   */
  send(
    message: EmailMessage,
    idempotencyKey: string,
    options?: SendOptions,
  ): Promise<{ id: string }>;
}

/**
 * How a refused send should be handled: a provider failure's kind
 * (`../util/provider_failure.ts`), or `already_sent` when the idempotency
 * key was used before (the email went out on an earlier attempt).
 */
export type MailerErrorKind = FailureKind | "already_sent";

/** A send the provider refused. */
export class MailerError extends Error {
  readonly kind: MailerErrorKind;
  readonly status: number | null;
  readonly retryAfterMs: number | undefined;

  constructor(
    message: string,
    options: { kind: MailerErrorKind; status: number | null; retryAfterMs?: number },
  ) {
    super(message);
    this.name = "MailerError";
    this.kind = options.kind;
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
  }
}
