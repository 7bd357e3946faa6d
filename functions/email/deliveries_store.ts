/**
 * The `public.email_deliveries` ledger: claim, then record.
 */

/** The kinds of onboarding email. */
export type EmailKind = "welcome" | "trial_offer";

/** Status of a delivery. `pending` means claimed but not yet recorded. */
export type DeliveryStatus = "pending" | "sent" | "skipped" | "failed" | "dry_run";

/** A final status, as recorded after a send (or a decision not to send). */
export type FinalStatus = Exclude<DeliveryStatus, "pending">;

/** The ledger, as the onboarding workflow needs it. */
export interface DeliveriesStore {
  /** Claims (user, kind); `pending` means "send it", anything else is final. */
  claim(userId: string, kind: EmailKind): Promise<DeliveryStatus>;
  /** Records the outcome of a claimed delivery; the first outcome stays. */
  record(
    userId: string,
    kind: EmailKind,
    outcome: { status: FinalStatus; resendId?: string; error?: string },
  ): Promise<DeliveryStatus>;
}
