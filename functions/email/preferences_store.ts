/**
 * `public.email_preferences` and the delivery events Resend reports, as the
 * routes and the onboarding workflow need them.
 */

/** How a user opted out of marketing email. */
export type OptOutSource = "one_click" | "page" | "complaint" | "bounce";

/** Who reported a newsletter opt-out that came from the provider's side. */
export type NewsletterOptOutSource = "mailchimp_unsubscribe" | "mailchimp_cleaned" | "resend";

/** What recording a provider's newsletter opt-out did. */
export type NewsletterOptOutOutcome = "opted_out" | "already_opted_out" | "unknown";

/** One of Resend's events about an email we sent. */
export interface DeliveryEvent {
  /** Resend's id of the email (`data.email_id`). */
  readonly resendId: string;
  /** The event type without `email.`, e.g. `delivered` or `bounced`. */
  readonly event: string;
  /** When it happened (the webhook's `created_at`), as ISO 8601. */
  readonly at: string;
  /** Set for a complaint or a permanent bounce: the user is opted out. */
  readonly optOut?: "complaint" | "bounce";
}

/** What recording a delivery event did. */
export type DeliveryEventOutcome =
  /** The email's last event is now this one. */
  | "updated"
  /** A newer (or the same) event was already stored; nothing changed. */
  | "stale"
  /** No email of ours has this Resend id; nothing was written. */
  | "unknown";

/** Opt-outs and delivery events. */
export interface EmailPreferencesStore {
  /** True when the user opted out of marketing email. */
  isOptedOut(userId: string): Promise<boolean>;
  /** Opts the user out; the first opt-out (time and source) stays. */
  optOut(userId: string, source: OptOutSource): Promise<"opted_out" | "already_opted_out">;
  /** Applies a delivery event to the email it names; the newest event wins. */
  recordEvent(event: DeliveryEvent): Promise<DeliveryEventOutcome>;
  /**
   * Records a newsletter opt-out the provider reported, for the subscriber
   * the provider knows by `address`; `unknown` when there is none.
   */
  recordNewsletterOptOut(
    address: string,
    source: NewsletterOptOutSource,
  ): Promise<NewsletterOptOutOutcome>;
}
