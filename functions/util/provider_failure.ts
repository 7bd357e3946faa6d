/**
 * One way to read a provider's failed answer. Resend (emails and
 * contacts), Mailchimp, Stripe and Clerk's Backend API all classify their
 * failures here, and `../inngest/step_errors.ts` turns the class into
 * Inngest's retry decision, so that the same answer is retried the same way
 * whoever gave it.
 */

/** How a failed call is retried. */
export type FailureKind =
  /** No answer, a timeout, 5xx, 408 or 409: retry on Inngest's back-off. */
  | "transient"
  /** 429: retry after the provider's `Retry-After`. */
  | "rate_limited"
  /**
   * 401 or 403: the key is wrong, revoked, or being rotated. A rotation
   * takes minutes, so this is retried with a long back-off: a short one
   * drops nothing, and a long one fails visibly once the retries are spent.
   */
  | "auth"
  /** Any other 4xx: the same request can never succeed. */
  | "permanent";

/** What a provider's error says about itself, whatever the provider. */
export interface ClassifiedFailure {
  readonly kind: FailureKind;
  /** The HTTP status, or null when no answer came. */
  readonly status: number | null;
  /** The provider's `Retry-After`, in ms, when it sent one. */
  readonly retryAfterMs?: number;
}

/** The kind of a failed answer with `status` (null or undefined: none came). */
export function failureKind(status: number | null | undefined): FailureKind {
  if (status === null || status === undefined || status >= 500) return "transient";
  if (status === 429) return "rate_limited";
  if (status === 401 || status === 403) return "auth";
  if (status === 408 || status === 409) return "transient";
  return status >= 400 ? "permanent" : "transient";
}

/**
 * A `Retry-After` header in milliseconds: delta-seconds or an HTTP date
 * (RFC 9110, 10.2.3), never negative; undefined when absent or unreadable.
 */
export function parseRetryAfter(
  header: string | null | undefined,
  now: number = Date.now(),
): number | undefined {
  const value = header?.trim();
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.ceil(Number(value) * 1000);
  // An HTTP date names its day and month; Date.parse would read "-3" as a year.
  if (!/[a-z]/i.test(value)) return undefined;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
