/**
 * The user's primary email address, as every feature that writes to a user
 * reads it (STYLE.md: never `email_addresses[0]`).
 */
import type { ClerkUser } from "./schemas.ts";

/**
 * The address whose id is `primary_email_address_id`. Never the first one in
 * the list: after a change of primary address that is often the old one.
 */
export function primaryEmail(user: ClerkUser): string | null {
  if (!user.primary_email_address_id) return null;
  const primary = user.email_addresses.find((a) => a.id === user.primary_email_address_id);
  return primary?.email_address ?? null;
}
