/**
 * Maps a Clerk User object to a row of `public.users`.
 */
import { primaryEmail } from "../clerk/primary_email.ts";
import type { ClerkUser } from "../clerk/schemas.ts";

/** The columns of `public.users` that a Clerk user sets. */
export interface UserRow {
  readonly id: string;
  readonly email: string | null;
  readonly first_name: string | null;
  readonly last_name: string | null;
  readonly username: string | null;
  readonly image_url: string | null;
  /** ISO 8601, converted from Clerk's epoch milliseconds. */
  readonly clerk_created_at: string;
  /** ISO 8601, converted from Clerk's epoch milliseconds. */
  readonly clerk_updated_at: string;
}

/** Builds the row for `user`. */
export function toUserRow(user: ClerkUser): UserRow {
  return {
    id: user.id,
    email: text(primaryEmail(user)),
    first_name: text(user.first_name),
    last_name: text(user.last_name),
    username: text(user.username),
    image_url: text(user.image_url),
    clerk_created_at: new Date(user.created_at).toISOString(),
    clerk_updated_at: new Date(user.updated_at).toISOString(),
  };
}

// PostgreSQL text cannot hold U+0000, and JSON can. Left in, one such name
// would fail its write on every retry; it carries no meaning, so drop it.
function text(value: string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  return value.replaceAll("\u0000", "");
}
