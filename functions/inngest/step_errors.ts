/**
 * Explicit retry decisions for workflow steps: a payload that cannot fit,
 * a database error, and a provider's failure each map to
 * `NonRetriableError`, `RetryAfterError`, or a plain error that Inngest
 * retries on its back-off.
 */
import { NonRetriableError, RetryAfterError } from "inngest";
import type { ClassifiedFailure } from "../util/provider_failure.ts";
import type { z } from "zod";
import { DatabaseError } from "../database/rpc.ts";
import { issuesText } from "../util/zod_issues.ts";
import type { LogFields, Logger } from "../util/log.ts";

/**
 * Parses workflow input, or throws NonRetriableError: a payload that does not
 * fit the schema will not fit it on any retry either.
 */
export function parseInput<T>(schema: z.ZodType<T>, data: unknown, action: string): T {
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  throw new NonRetriableError(`${action}: invalid event data (${issuesText(result.error)})`);
}

/**
 * Wraps a failed database write with the action that failed. Permanent
 * database errors become NonRetriableError; the rest are thrown plainly, so
 * that Inngest retries them.
 */
export function databaseFailure(action: string, error: unknown): Error {
  const detail = error instanceof Error ? error.message : String(error);
  if (error instanceof DatabaseError && error.permanent) {
    return new NonRetriableError(`${action}: ${detail}`, { cause: error });
  }
  return new Error(`${action}: ${detail}`, { cause: error });
}

/**
 * Runs the work of one workflow step: logs its outcome (the string it
 * returns, or its `outcome`) and duration under `message`, or throws what
 * `failure` makes of the error with `action` (default
 * {@link databaseFailure}: the step is one database write).
 */
export async function loggedWrite<T extends string | { readonly outcome: string }>(
  logger: Logger,
  message: string,
  fields: LogFields,
  action: string,
  write: () => Promise<T>,
  failure: (action: string, error: unknown) => Error = databaseFailure,
): Promise<T> {
  const started = performance.now();
  try {
    const result = await write();
    logger.info(message, {
      ...fields,
      outcome: typeof result === "string" ? result : result.outcome,
      duration_ms: Math.round(performance.now() - started),
    });
    return result;
  } catch (error) {
    throw failure(action, error);
  }
}

/**
 * How long a step waits before it tries a refused key again: long enough
 * for a rotation to be finished, so that ten retries cover most of an hour.
 */
export const AUTH_RETRY_MS = 5 * 60_000;

/** Without the provider's `Retry-After`, a 429 is retried after this long. */
export const DEFAULT_RATE_LIMIT_WAIT_MS = 10_000;

/**
 * The error Inngest should see for a provider's classified failure:
 * `RetryAfterError` for a 429 (after its `Retry-After`) and for a refused
 * key (after {@link AUTH_RETRY_MS}), `NonRetriableError` for a permanent
 * refusal, the plain error (retried on Inngest's back-off) otherwise.
 */
export function providerFailure(
  action: string,
  // A provider's own kinds beyond these (Resend's `already_sent`, say) are
  // handled before; any left are retried like a transient failure.
  error: Error & Pick<ClassifiedFailure, "retryAfterMs"> & { readonly kind: string },
  rateLimitWaitMs: number = DEFAULT_RATE_LIMIT_WAIT_MS,
): Error {
  const message = `${action}: ${error.message}`;
  switch (error.kind) {
    case "rate_limited":
      return new RetryAfterError(message, error.retryAfterMs ?? rateLimitWaitMs, { cause: error });
    case "auth":
      return new RetryAfterError(`${message} (the key may be mid-rotation)`, AUTH_RETRY_MS, {
        cause: error,
      });
    case "permanent":
      return new NonRetriableError(message, { cause: error });
    default:
      return new Error(message, { cause: error });
  }
}
