/**
 * Adapts the app's structured logger to the logger interface of the Inngest
 * SDK. The SDK passes pino-style `(fields, message)` or plain arguments; only
 * the message and an error's message are kept, so no payload reaches the logs.
 */
import type { Logger as InngestLogger } from "inngest";
import { errorFields, type LogFields, type Logger } from "../util/log.ts";

/** Wraps `logger` for the Inngest client's `logger` option. */
export function inngestLogger(logger: Logger): InngestLogger {
  const adapt = (write: (msg: string, fields?: LogFields) => void) => (...args: unknown[]) => {
    const msg = args.find((arg): arg is string => typeof arg === "string") ?? "inngest";
    const error = args.find((arg) => arg instanceof Error) ??
      args.map((arg) => (arg as { err?: unknown } | null)?.err).find((err) => err !== undefined);
    write(msg, { source: "inngest", ...(error === undefined ? {} : errorFields(error)) });
  };
  return {
    debug: adapt(logger.debug),
    info: adapt(logger.info),
    warn: adapt(logger.warn),
    error: adapt(logger.error),
  };
}
