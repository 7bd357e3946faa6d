/**
 * Clerk-looking ids for the payload builders: one way to make them.
 */

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** `prefix` and 27 random base62 characters, the length of Clerk and Svix ids. */
export function clerkId(prefix: string): string {
  const bytes = crypto.getRandomValues(new Uint8Array(27));
  return prefix + Array.from(bytes, (b) => BASE62[b % 62]).join("");
}
