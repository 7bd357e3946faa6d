/**
 * Writes to `public.users`, through the SQL functions the migrations define.
 */
import type { UserRow } from "./user_row.ts";

/** What an upsert did: see `public.upsert_user_from_clerk`. */
export type UpsertOutcome = "inserted" | "updated" | "stale" | "deleted";

/** What a delete did: see `public.delete_user_from_clerk`. */
export type DeleteOutcome = "deleted" | "already_deleted";

/** Who an email goes to now, read back from `public.users`. */
export interface Recipient {
  readonly email: string | null;
  readonly first_name: string | null;
  readonly deleted: boolean;
}

/** The users table, as the workflows need it. */
export interface UsersStore {
  /** Applies a created/updated user; the newest `clerk_updated_at` wins. */
  upsert(row: UserRow): Promise<UpsertOutcome>;
  /** Erases a user's personal data and keeps a tombstone. */
  markDeleted(id: string, deletedAt: string): Promise<DeleteOutcome>;
  /** The user's current address and name; `null` if never synced. */
  findRecipient(id: string): Promise<Recipient | null>;
}
