/**
 * The ledger of Clerk's own emails: one row per Clerk message in
 * `public.email_deliveries`, kind `auth`, keyed by the svix-id of the
 * webhook that carried it, with the template's slug, the Resend id and the
 * status, and never the content.
 */
import type { DeliveryStatus } from "../email/deliveries_store.ts";

/** What became of one of Clerk's emails, as the ledger records it. */
export interface AuthEmailEntry {
  /** The svix-id of the webhook that carried it. */
  readonly svixId: string;
  /** Null for a sign-up code: the user does not exist yet. */
  readonly userId: string | null;
  /** Clerk's template, e.g. `verification_code`. */
  readonly slug: string | null;
  /**
   * `pending` for an attempt that failed and that Svix will retry; a final
   * status (`sent`, `skipped`, `failed`, `dry_run`) is never replaced.
   */
  readonly status: DeliveryStatus;
  readonly resendId?: string;
  /** Why it failed or was skipped; never the content, never an address. */
  readonly error?: string;
}

/** The ledger, as the webhook stage needs it. */
export interface AuthEmailLedger {
  /** The recorded status of the email that webhook `svixId` carried, if any. */
  status(svixId: string): Promise<DeliveryStatus | undefined>;
  /** Records `entry`; returns the status the row has afterwards (a final one stays). */
  record(entry: AuthEmailEntry): Promise<DeliveryStatus>;
}
