/**
 * The error for a request to Inngest that got no answer at all (nothing
 * listening, DNS, TLS), as opposed to an answer that refused it.
 */

/**
 * Thrown by the Inngest client's fetch when no connection could be made. The
 * message starts with "fetch failed", which the SDK treats as a plain
 * network failure rather than a misconfigured fetch.
 */
export class InngestUnreachableError extends TypeError {
  /** The origin that could not be reached, e.g. `http://localhost:8288`. */
  readonly origin: string;

  constructor(origin: string, cause: unknown) {
    super(`fetch failed: could not reach Inngest at ${origin}`, { cause });
    this.name = "InngestUnreachableError";
    this.origin = origin;
  }
}
