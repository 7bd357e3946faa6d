/**
 * The retry decision Inngest gets for a failed step of the reconcile.
 */
import { NonRetriableError, RetryAfterError } from "inngest";
import { ClerkApiError, ClerkRateLimitError } from "../clerk/backend_api.ts";
import { DatabaseError } from "../database/rpc.ts";
import { databaseFailure } from "../inngest/step_errors.ts";

/**
 * The retry decision for a failed step: a 429 waits for Clerk's
 * `Retry-After` (RetryAfterError); a refused key, another permanent refusal
 * or a permanent database error is NonRetriableError; the rest (5xx,
 * network, a database that does not answer) is thrown plainly, so that
 * Inngest retries.
 */
export function stepFailure(action: string, error: unknown): Error {
  if (error instanceof NonRetriableError) return error;
  if (error instanceof DatabaseError) return databaseFailure(action, error);
  const detail = error instanceof Error ? error.message : String(error);
  if (error instanceof ClerkRateLimitError) {
    return new RetryAfterError(`${action}: ${detail}`, error.retryAfterSeconds * 1000, {
      cause: error,
    });
  }
  if (error instanceof ClerkApiError && error.permanent) {
    return new NonRetriableError(`${action}: ${detail}`, { cause: error });
  }
  return new Error(`${action}: ${detail}`, { cause: error });
}
