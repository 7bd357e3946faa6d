/**
 * One error type for every HTTP answer that is not a success, and the one
 * place where errors become responses.
 */

/** An error that maps to an HTTP status with a short, safe message. */
export class HttpError extends Error {
  readonly status: number;
  /** A stable machine-readable code, e.g. `invalid_signature`. */
  readonly code: string;
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    status: number,
    code: string,
    message: string,
    options: { headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = "HttpError";
    this.status = status;
    this.code = code;
    this.headers = options.headers ?? {};
  }
}

/** A JSON response. */
export function json(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
  });
}

/**
 * Turns a thrown value into a response: an HttpError keeps its status, and
 * anything else is a 500 whose details stay in the logs, not in the body.
 */
export function errorResponse(error: unknown): Response {
  if (error instanceof HttpError) {
    return json(error.status, { error: error.code, message: error.message }, error.headers);
  }
  return json(500, { error: "internal_error", message: "Internal error" });
}
