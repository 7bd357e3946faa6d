/**
 * A local stand-in for Resend's `POST /emails`. It keeps Resend's
 * idempotency semantics (the same key and body answer with the first
 * email's id and send nothing new; the same key with another body is a 409)
 * and can inject faults per request.
 */

/** An email the stand-in "delivered". */
export interface DeliveredEmail {
  id: string;
  idempotencyKey: string | null;
  from: string;
  to: string | string[];
  subject: string;
  html: string;
  text: string;
  /** Extra headers the email was sent with (Resend's `headers`). */
  headers?: Record<string, string>;
}

/** A fault to inject into one request. */
export type ResendFault =
  | { status: 429; retryAfterSeconds: number }
  | { status: 500 }
  | { status: 422; name?: string };

/** A running stand-in. */
export interface ResendApi {
  /** The value for `RESEND_BASE_URL`. */
  readonly url: string;
  /** Emails actually delivered: one per distinct send. */
  readonly delivered: DeliveredEmail[];
  /** How many requests arrived, faults included. */
  requests: number;
  /** Requests refused because their key came with another body (409). */
  conflicts: number;
  /** The fault for request number `n` (1-based) with this key, if any. */
  fault: (n: number, idempotencyKey: string | null) => ResendFault | undefined;
  close(): Promise<void>;
}

/** Starts the stand-in on a free loopback port. */
export function startResendApi(): ResendApi {
  const delivered: DeliveredEmail[] = [];
  const byKey = new Map<string, { body: string; id: string }>();
  const api: ResendApi = {
    url: "",
    delivered,
    requests: 0,
    conflicts: 0,
    fault: () => undefined,
    close: () => server.shutdown(),
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    api.requests += 1;
    const body = await req.text();
    if (req.method !== "POST" || new URL(req.url).pathname !== "/emails") {
      return Response.json({ statusCode: 404, name: "not_found", message: "Not found" }, {
        status: 404,
      });
    }
    const key = req.headers.get("idempotency-key");
    const fault = api.fault(api.requests, key);
    if (fault?.status === 429) {
      return Response.json(
        { statusCode: 429, name: "rate_limit_exceeded", message: "Too many requests" },
        { status: 429, headers: { "retry-after": String(fault.retryAfterSeconds) } },
      );
    }
    if (fault?.status === 500) {
      return Response.json({ statusCode: 500, name: "internal_server_error", message: "Boom" }, {
        status: 500,
      });
    }
    if (fault?.status === 422) {
      // Like Resend's, the message quotes the address it rejected.
      return Response.json({
        statusCode: 422,
        name: fault.name ?? "validation_error",
        message: `Invalid \`to\` field: ${JSON.parse(body).to}`,
      }, { status: 422 });
    }
    const previous = key ? byKey.get(key) : undefined;
    if (previous && previous.body !== body) {
      api.conflicts += 1;
      return Response.json({
        statusCode: 409,
        name: "invalid_idempotent_request",
        message: "Same idempotency key used with a different request payload",
      }, { status: 409 });
    }
    if (previous) return Response.json({ id: previous.id });
    const id = crypto.randomUUID();
    if (key) byKey.set(key, { body, id });
    delivered.push({ id, idempotencyKey: key, ...JSON.parse(body) });
    return Response.json({ id });
  });
  (api as { url: string }).url = `http://127.0.0.1:${server.addr.port}`;
  return api;
}
