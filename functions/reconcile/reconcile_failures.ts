/**
 * The retry decision Inngest gets for a failed step of the reconcile.
 */
import { NonRetriableError } from "inngest";
import { ClerkApiError } from "../clerk/backend_api.ts";
import { DatabaseError } from "../database/rpc.ts";
import { databaseFailure, providerFailure } from "../inngest/step_errors.ts";

/**
 * The retry decision for a failed step: a Clerk failure is read like every
 * provider's (`providerFailure`: a 429 waits for Clerk's `Retry-After`, a
 * refused key waits out a rotation, another permanent refusal is
 * NonRetriableError), a permanent database error is NonRetriableError, and
 * the rest (a database that does not answer) is thrown plainly, so that
 * Inngest retries.
 */
export function stepFailure(action: string, error: unknown): Error {
  if (error instanceof NonRetriableError) return error;
  if (error instanceof DatabaseError) return databaseFailure(action, error);
  if (error instanceof ClerkApiError) return providerFailure(action, error);
  const detail = error instanceof Error ? error.message : String(error);
  return new Error(`${action}: ${detail}`, { cause: error });
}
