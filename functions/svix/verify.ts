/**
 * Verifies Svix signatures against the raw body, with any of several secrets
 * (senders let you roll the secret; during the overlap, both are
 * configured). Clerk and Resend both sign their webhooks with Svix.
 */
import { Webhook, WebhookVerificationError } from "svix";

export { WebhookVerificationError };

/** The Svix message headers, from either the `svix-*` or `webhook-*` names. */
export interface SvixHeaders {
  readonly id: string;
  readonly timestamp: string;
  readonly signature: string;
}

/**
 * Reads the message id, timestamp and signature headers. Svix sends
 * `svix-*`; the Standard Webhooks names `webhook-*` are accepted as well.
 * Throws WebhookVerificationError naming what is missing.
 */
export function svixHeaders(headers: Headers): SvixHeaders {
  const read = (name: string) =>
    headers.get(`svix-${name}`) ?? headers.get(`webhook-${name}`) ?? "";
  const found = { id: read("id"), timestamp: read("timestamp"), signature: read("signature") };
  const missing = Object.entries(found).filter(([, v]) => !v).map(([k]) => `svix-${k}`);
  if (missing.length) {
    throw new WebhookVerificationError(`Missing required headers: ${missing.join(", ")}`);
  }
  return found;
}

/** Verifies a raw body against a message's headers. */
export type Verifier = (body: string, headers: SvixHeaders) => void;

/**
 * Creates a verifier that accepts a message signed with any of `secrets`.
 * Throws WebhookVerificationError when none matches, or when the timestamp
 * is more than five minutes from now (Svix's tolerance, against replays).
 */
export function createVerifier(secrets: readonly string[]): Verifier {
  if (secrets.length === 0) throw new TypeError("Cannot verify webhooks: no signing secret");
  const webhooks = secrets.map((secret) => new Webhook(secret));
  return (body, headers) => {
    const svix = {
      "svix-id": headers.id,
      "svix-timestamp": headers.timestamp,
      "svix-signature": headers.signature,
    };
    let lastError: unknown;
    for (const webhook of webhooks) {
      try {
        webhook.verify(body, svix);
        return;
      } catch (error) {
        lastError = error;
      }
    }
    throw lastError instanceof WebhookVerificationError
      ? lastError
      : new WebhookVerificationError("Invalid signature");
  };
}
