/**
 * A local stand-in for Resend's `POST /emails`. It keeps Resend's
 * idempotency semantics (the same key and body answer with the first
 * email's id and send nothing new; the same key with another body is a 409
 * `invalid_idempotent_request`; a key expires 24 hours after first use) and
 * can inject faults per request.
 *
 * It does not do the work it checks: `received` records every request, in
 * order and before any deduplication, with the answer it got, so that tests
 * count what the code under test really sent.
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

/** One request as it arrived, before any deduplication, and its answer. */
export interface ResendRequest {
  /** 1-based position among all requests. */
  readonly n: number;
  /** When it arrived, on the stand-in's clock. */
  readonly at: number;
  readonly idempotencyKey: string | null;
  /** The raw JSON body. */
  readonly body: string;
  readonly to: string | string[];
  readonly subject: string;
  /** The status answered. */
  status: number;
  /** Resend's error name, for a refusal. */
  errorName?: string;
  /** The email id answered (for a replay within 24 h, the first email's id). */
  id?: string;
}

/** Resend keeps an idempotency key for 24 hours. */
export const IDEMPOTENCY_KEY_TTL_MS = 24 * 60 * 60 * 1000;

/** Options for {@link startResendApi}. */
export interface ResendApiOptions {
  /** The clock for key expiry; default real time. Pass a simulated clock's `now`. */
  readonly now?: () => number;
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
  /** Every request to `POST /emails`, before deduplication: the raw record. */
  readonly received: ResendRequest[];
  /** How many requests arrived, faults included. */
  requests: number;
  /** Requests refused because their key came with another body (409). */
  conflicts: number;
  /** The fault for request number `n` (1-based) with this key, if any. */
  fault: (n: number, idempotencyKey: string | null) => ResendFault | undefined;
  close(): Promise<void>;
}

/** Starts the stand-in on a free loopback port. */
export function startResendApi(options: ResendApiOptions = {}): ResendApi {
  const now = options.now ?? Date.now;
  const delivered: DeliveredEmail[] = [];
  const received: ResendRequest[] = [];
  const byKey = new Map<string, { body: string; id: string; at: number }>();
  const api: ResendApi = {
    url: "",
    delivered,
    received,
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
    const parsed = JSON.parse(body) as { to: string | string[]; subject: string };
    const record: ResendRequest = {
      n: api.requests,
      at: now(),
      idempotencyKey: key,
      body,
      to: parsed.to,
      subject: parsed.subject,
      status: 0,
    };
    received.push(record);
    const refuse = (status: number, name: string, message: string, headers?: HeadersInit) => {
      record.status = status;
      record.errorName = name;
      return Response.json({ statusCode: status, name, message }, { status, headers });
    };
    const fault = api.fault(api.requests, key);
    if (fault?.status === 429) {
      return refuse(429, "rate_limit_exceeded", "Too many requests", {
        "retry-after": String(fault.retryAfterSeconds),
      });
    }
    if (fault?.status === 500) return refuse(500, "internal_server_error", "Boom");
    if (fault?.status === 422) {
      // Like Resend's, the message quotes the address it rejected.
      return refuse(422, fault.name ?? "validation_error", `Invalid \`to\` field: ${parsed.to}`);
    }
    const found = key ? byKey.get(key) : undefined;
    const previous = found && record.at - found.at < IDEMPOTENCY_KEY_TTL_MS ? found : undefined;
    if (previous && previous.body !== body) {
      api.conflicts += 1;
      return refuse(
        409,
        "invalid_idempotent_request",
        "Same idempotency key used with a different request payload",
      );
    }
    record.status = 200;
    if (previous) {
      record.id = previous.id;
      return Response.json({ id: previous.id });
    }
    const id = crypto.randomUUID();
    record.id = id;
    if (key) byKey.set(key, { body, id, at: record.at });
    delivered.push({ id, idempotencyKey: key, ...JSON.parse(body) });
    return Response.json({ id });
  });
  (api as { url: string }).url = `http://127.0.0.1:${server.addr.port}`;
  return api;
}
