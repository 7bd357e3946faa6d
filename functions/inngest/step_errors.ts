/**
 * Explicit retry decisions for workflow steps.
 */
import { NonRetriableError } from "inngest";
import type { z } from "zod";
import { DatabaseError } from "../database/rpc.ts";
import type { LogFields, Logger } from "../util/log.ts";

/**
 * Parses workflow input, or throws NonRetriableError: a payload that does not
 * fit the schema will not fit it on any retry either.
 */
export function parseInput<T>(schema: z.ZodType<T>, data: unknown, action: string): T {
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  const issues = result.error.issues
    .map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`)
    .join("; ");
  throw new NonRetriableError(`${action}: invalid event data (${issues})`);
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
 * Runs one database write of a workflow step: logs its outcome and duration
 * under `message`, or throws {@link databaseFailure} with `action`.
 */
export async function loggedWrite<T extends string>(
  logger: Logger,
  message: string,
  fields: LogFields,
  action: string,
  write: () => Promise<T>,
): Promise<T> {
  const started = performance.now();
  try {
    const outcome = await write();
    logger.info(message, {
      ...fields,
      outcome,
      duration_ms: Math.round(performance.now() - started),
    });
    return outcome;
  } catch (error) {
    throw databaseFailure(action, error);
  }
}
