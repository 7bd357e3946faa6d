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

/** A row as `POST /clerk-events/users/me/sync` answers it (as stored, so no `clerk_created_at`). */
export type SyncedUser = Omit<UserRow, "clerk_created_at">;

/** A stored user, and whether it was synced within the freshness window. */
export interface StoredSyncState {
  readonly user: SyncedUser;
  /** The user is a tombstone. */
  readonly deleted: boolean;
  /** Written from Clerk data, or checked against Clerk, within the window. */
  readonly fresh: boolean;
}

/** What a sync from the Backend API did: see `public.sync_user_from_clerk_api`. */
export type ApiSyncOutcome = "inserted" | "updated" | "unchanged" | "stale" | "deleted";

/** The result of {@link UsersStore.syncFromApi}; `user` is null for a tombstone. */
export interface ApiSyncResult {
  readonly outcome: ApiSyncOutcome;
  readonly user: SyncedUser | null;
}

/** The users table, as the workflows need it. */
export interface UsersStore {
  /** Applies a created/updated user; the newest `clerk_updated_at` wins. */
  upsert(row: UserRow): Promise<UpsertOutcome>;
  /** Erases a user's personal data and keeps a tombstone. */
  markDeleted(id: string, deletedAt: string): Promise<DeleteOutcome>;
  /** The user's current address and name; `null` if never synced. */
  findRecipient(id: string): Promise<Recipient | null>;
  /** The user and how fresh it is; `null` if never synced. */
  findForSync(id: string, freshForSeconds: number): Promise<StoredSyncState | null>;
  /**
   * Applies a user read from Clerk's Backend API with the rules of
   * {@link UsersStore.upsert}, and records that it was checked.
   */
  syncFromApi(row: UserRow): Promise<ApiSyncResult>;
}
