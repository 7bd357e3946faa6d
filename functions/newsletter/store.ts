/**
 * The newsletter's state in `public.email_preferences` and its two tables,
 * as the workflow needs it (see the migrations `20261202110000_newsletter.sql`
 * and `20261206100000_newsletter_convergence.sql`).
 */

/** One Clerk state of a user, as far as the newsletter reads it. */
export interface ConsentEvent {
  readonly userId: string;
  /** `unsafe_metadata.newsletter === true`. */
  readonly consent: boolean;
  /** The Clerk user's `updated_at`, ISO 8601. */
  readonly at: string;
  /** The primary address, or null. */
  readonly address: string | null;
}

/** What the provider should hold for a user now, and what it was last told. */
export interface WantedState {
  /** The user was deleted: nothing is sent for them but removals. */
  readonly erased: boolean;
  /** Consent is given, after the latest opt-out. */
  readonly subscribe: boolean;
  /** Where the subscription belongs (the newest primary address). */
  readonly address: string | null;
  /** The user's names, from `public.users` (null before its row is written). */
  readonly first_name: string | null;
  readonly last_name: string | null;
  /** The address the provider knows the user by, if any. */
  readonly provider_address: string | null;
  /** Whether the provider was last told the user is subscribed; null: unknown (a call's answer was lost). */
  readonly provider_subscribed: boolean | null;
  /** When this was read (database time). */
  readonly read_at: string;
}

/** The newsletter's bookkeeping. Every write is safe to repeat. */
export interface NewsletterStore {
  /** Records a Clerk state: `recorded`, `stale` (older, kept for the order) or `deleted`. */
  observe(event: ConsentEvent): Promise<string>;
  /**
   * Records the current states the reconcile read, for users who consent or
   * whom the newsletter already knows; returns how many were recorded.
   */
  observeMany(events: readonly ConsentEvent[]): Promise<number>;
  /** What the provider should hold for the user now. */
  wanted(userId: string): Promise<WantedState>;
  /**
   * Records what the provider holds after it answered; for a user deleted
   * meanwhile, queues `address` for removal instead (`deleted`).
   */
  providerDone(
    userId: string,
    address: string | null,
    subscribed: boolean | null,
    readAt: string,
  ): Promise<string>;
  /** The provider kept an opt-out of its own: recorded as the latest opt-out. */
  providerKeptOut(userId: string): Promise<void>;
  /** Tombstones a deleted user, erases the address, and queues its removal. */
  erase(userId: string, deletedAt: string): Promise<void>;
  /** Addresses of the user still to remove at the provider. */
  removals(userId: string): Promise<string[]>;
  /** The provider removed `address`. */
  removalDone(userId: string, address: string): Promise<void>;
  /** Users the provider may not be in line with (an opt-out, a removal, a consent waiting). */
  pendingUnsubscribes(limit: number): Promise<string[]>;
}
