/**
 * One interface over the newsletter's providers (Mailchimp, Resend's
 * contacts), so that the workflow and its tests never name one.
 *
 * Every method is idempotent: the workflow calls each in its own step, and
 * Inngest retries a step whose call failed, or whose answer was lost.
 */
import type { ClassifiedFailure, FailureKind } from "../util/provider_failure.ts";

/** A subscriber as the provider stores them. */
export interface NewsletterContact {
  readonly email: string;
  readonly firstName: string | null;
  readonly lastName: string | null;
}

/** What a subscribe did at the provider. */
export type SubscribeOutcome =
  /** The contact is subscribed (new, or already). */
  | "subscribed"
  /** Mailchimp re-subscribes a member who had left with double opt-in. */
  | "pending"
  /** The provider keeps an opt-out of theirs (consent was not new). */
  | "kept_unsubscribed";

/** The provider's side of the newsletter. */
export interface NewsletterProvider {
  readonly name: "mailchimp" | "resend";
  /**
   * Adds `contact`, or updates it. With `renewed` (consent given now, in
   * Clerk), a contact who had unsubscribed is subscribed again (Mailchimp:
   * `pending`, double opt-in); without, an existing contact's status is
   * never changed.
   */
  subscribe(contact: NewsletterContact, options: { renewed: boolean }): Promise<SubscribeOutcome>;
  /** Moves the subscription from `from` to `contact.email`. */
  move(from: string, contact: NewsletterContact): Promise<"moved" | "subscribed">;
  /** Marks `email` unsubscribed; a contact the provider does not know is fine. */
  unsubscribe(email: string): Promise<"unsubscribed" | "not_found">;
  /** Removes `email` for good (a deleted Clerk user). */
  remove(email: string): Promise<"removed" | "not_found">;
}

/** A failed provider call, classified (`../util/provider_failure.ts`). Never carries the address. */
export class ProviderError extends Error implements ClassifiedFailure {
  readonly kind: FailureKind;
  readonly status: number | null;
  /** The provider's `retry-after`, for a 429. */
  readonly retryAfterMs?: number;

  constructor(
    message: string,
    options: { kind: FailureKind; status: number | null; retryAfterMs?: number },
  ) {
    super(message);
    this.name = "ProviderError";
    this.kind = options.kind;
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
  }
}
