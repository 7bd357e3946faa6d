/**
 * The newsletter's state in `public.email_preferences`, as the workflow
 * needs it (see the migration `20261202110000_newsletter.sql`).
 */

/** What a Clerk user event asks of the provider. */
export interface NewsletterPlan {
  readonly action: "subscribe" | "move" | "unsubscribe" | "none";
  /** The address to act on (the new one for subscribe and move). */
  readonly address: string | null;
  /** The address the provider knows the user by, when it is another. */
  readonly previous_address: string | null;
  /** Why, e.g. `consent`, `opted out`, `stale`. */
  readonly reason: string;
  /** When the plan was made (database time). */
  readonly planned_at: string;
}

/** One Clerk user event, as far as the newsletter reads it. */
export interface ConsentEvent {
  readonly userId: string;
  /** `unsafe_metadata.newsletter === true`. */
  readonly consent: boolean;
  /** The Clerk user's `updated_at`, ISO 8601. */
  readonly at: string;
  /** The primary address, or null. */
  readonly address: string | null;
}

/** The newsletter's bookkeeping. */
export interface NewsletterStore {
  /** What `event` asks of the provider; writes nothing. */
  plan(event: ConsentEvent): Promise<NewsletterPlan>;
  /** Records `event` after the provider carried out `plan`. */
  commit(event: ConsentEvent, plan: NewsletterPlan): Promise<string>;
  /** The address whose opt-out the provider has not confirmed yet. */
  pendingUnsubscribe(userId: string): Promise<string | null>;
  /** The provider confirmed the opt-out of `address`. */
  unsubscribeConfirmed(userId: string, address: string): Promise<void>;
  /** User ids whose opt-out waits for the provider. */
  pendingUnsubscribes(limit: number): Promise<string[]>;
  /** Tombstones a deleted user; returns the address the provider knows. */
  eraseBegin(userId: string, deletedAt: string): Promise<string | null>;
  /** Erases the address once the provider removed it. */
  eraseDone(userId: string): Promise<void>;
}
