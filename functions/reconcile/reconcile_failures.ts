/**
 * How the reconcile's steps read a failure: whether a retry may cure it,
 * what to log of it, and the retry decision Inngest gets.
 */
import { NonRetriableError, RetryAfterError } from "inngest";
import { ClerkApiError, ClerkRateLimitError } from "../clerk/backend_api.ts";
import { DatabaseError } from "../database/rpc.ts";
import { errorFields } from "../util/log.ts";
import { databaseFailure } from "../inngest/step_errors.ts";

/** Whether a retry may cure `error` (a 429, a 5xx, a network error). */
export function transient(error: unknown): boolean {
  return error instanceof ClerkApiError && !error.permanent;
}

/** Log fields for a failure: its status, and its message with addresses masked. */
export function why(error: unknown) {
  return {
    status: error instanceof ClerkApiError ? error.status : undefined,
    ...errorFields(error),
  };
}

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
