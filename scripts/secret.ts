/**
 * `deno task secret`: prints a fresh random secret on stdout, and nothing
 * else, so that it can be piped or pasted.
 *
 * - no option: a `whsec_` signing secret (32 random bytes, base64), the form
 *   Svix uses, for CLERK_WEBHOOK_SIGNING_SECRET in tests or for
 *   RESEND_WEBHOOK_SECRET-style settings;
 * - `--token`: a 43-character URL-safe token (32 random bytes), for
 *   HEALTH_TOKEN or UNSUBSCRIBE_SECRET.
 *
 * In production, CLERK_WEBHOOK_SIGNING_SECRET must be the secret Clerk shows
 * for the endpoint: Clerk signs with its own secret, not with yours.
 */

const randomBase64 = () => btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));

/** A fresh `whsec_` secret. */
export function newSigningSecret(): string {
  return "whsec_" + randomBase64();
}

/** A fresh URL-safe token of 43 characters. */
export function newToken(): string {
  return randomBase64().replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

if (import.meta.main) {
  const [flag] = Deno.args;
  if (flag === undefined) console.log(newSigningSecret());
  else if (flag === "--token") console.log(newToken());
  else {
    console.error("Usage: deno task secret [--token]");
    Deno.exit(2);
  }
}
