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
 *
 * It also serves Resend's contacts, as the newsletter uses them:
 * `POST /contacts` (409 when the address exists), `GET`, `PATCH` and
 * `DELETE /contacts/{id or email}`, and
 * `POST /contacts/{id or email}/segments/{segment}`. Every contacts request
 * is recorded in `contactRequests` with its raw body, and `contactFault`
 * injects 429 (with `retry-after`) or 500 per request.
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
  | { status: 422; name?: string }
  /** A refused API key (revoked, or being rotated). */
  | { status: 403 }
  /** Never answers (until the stand-in closes): the email is not sent. */
  | { status: "hang" };

/** A contact as the stand-in stores it. */
export interface StoredContact {
  id: string;
  email: string;
  first_name: string | null;
  last_name: string | null;
  unsubscribed: boolean;
  segments: Set<string>;
}

/** One contacts request as it arrived, and its answer. */
export interface ContactRequest {
  readonly n: number;
  readonly at: number;
  readonly method: string;
  /** The path, decoded. */
  readonly path: string;
  /** The raw JSON body, as sent. */
  readonly body: string;
  status: number;
}

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
  /** Contacts by id. */
  readonly contacts: Map<string, StoredContact>;
  /** Every contacts request, faults included. */
  readonly contactRequests: ContactRequest[];
  /** The fault for contacts request number `n` (1-based), if any. */
  contactFault: (n: number, req: ContactRequest) => ResendFault | undefined;
  /** Answers one request in process, as the server would (no socket). */
  readonly handle: (req: Request) => Promise<Response>;
  close(): Promise<void>;
}

/** Starts the stand-in on a free loopback port. */
export function startResendApi(options: ResendApiOptions = {}): ResendApi {
  const now = options.now ?? Date.now;
  const delivered: DeliveredEmail[] = [];
  const received: ResendRequest[] = [];
  const byKey = new Map<string, { body: string; id: string; at: number }>();
  const hanging = new Set<() => void>();
  const api: ResendApi = {
    url: "",
    delivered,
    received,
    requests: 0,
    conflicts: 0,
    fault: () => undefined,
    contacts: new Map(),
    contactRequests: [],
    contactFault: () => undefined,
    handle: (req) => handle(req),
    close: () => {
      for (const release of hanging) release();
      return server.shutdown();
    },
  };
  const handle = async (req: Request): Promise<Response> => {
    api.requests += 1;
    const body = await req.text();
    const pathname = decodeURIComponent(new URL(req.url).pathname);
    if (pathname === "/contacts" || pathname.startsWith("/contacts/")) {
      return contactsRequest(api, req.method, pathname, body, now());
    }
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
    if (fault?.status === "hang") {
      await new Promise<void>((resolve) => {
        const release = () => {
          hanging.delete(release);
          resolve();
        };
        hanging.add(release);
      });
      return refuse(504, "gateway_timeout", "The stand-in was closed while hanging");
    }
    if (fault?.status === 429) {
      return refuse(429, "rate_limit_exceeded", "Too many requests", {
        "retry-after": String(fault.retryAfterSeconds),
      });
    }
    if (fault?.status === 500) return refuse(500, "internal_server_error", "Boom");
    if (fault?.status === 403) return refuse(403, "invalid_api_key", "API key is invalid");
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
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handle);
  (api as { url: string }).url = `http://127.0.0.1:${server.addr.port}`;
  return api;
}

function contactsRequest(
  api: ResendApi,
  method: string,
  path: string,
  body: string,
  at: number,
): Response {
  const record: ContactRequest = {
    n: api.contactRequests.length + 1,
    at,
    method,
    path,
    body,
    status: 0,
  };
  api.contactRequests.push(record);
  const answer = (status: number, json: unknown, headers?: HeadersInit) => {
    record.status = status;
    return Response.json(json, { status, headers });
  };
  const refuse = (status: number, name: string, message: string, headers?: HeadersInit) =>
    answer(status, { statusCode: status, name, message }, headers);
  const fault = api.contactFault(record.n, record);
  if (fault?.status === 429) {
    return refuse(429, "rate_limit_exceeded", "Too many requests", {
      "retry-after": String(fault.retryAfterSeconds),
    });
  }
  if (fault?.status === 500) return refuse(500, "internal_server_error", "Boom");
  const find = (key: string) =>
    api.contacts.get(key) ??
      [...api.contacts.values()].find((c) => c.email.toLowerCase() === key.toLowerCase());
  const parsed = body ? JSON.parse(body) as Record<string, unknown> : {};
  const segments = /^\/contacts\/([^/]+)\/segments\/([^/]+)$/.exec(path);
  if (segments && method === "POST") {
    const contact = find(segments[1]);
    if (!contact) return refuse(404, "not_found", "Contact not found");
    contact.segments.add(segments[2]);
    return answer(201, { id: segments[2] });
  }
  if (path === "/contacts" && method === "POST") {
    const email = String(parsed.email ?? "");
    if (!email) return refuse(422, "validation_error", "Missing `email` field");
    if (find(email)) return refuse(409, "conflict", "Contact already exists");
    const contact: StoredContact = {
      id: crypto.randomUUID(),
      email,
      first_name: (parsed.first_name as string | undefined) ?? null,
      last_name: (parsed.last_name as string | undefined) ?? null,
      // Like Resend: a contact is subscribed unless told otherwise.
      unsubscribed: parsed.unsubscribed === true,
      segments: new Set(
        ((parsed.segments as { id: string }[] | undefined) ?? []).map((s) => s.id),
      ),
    };
    api.contacts.set(contact.id, contact);
    return answer(201, { object: "contact", id: contact.id });
  }
  const one = /^\/contacts\/([^/]+)$/.exec(path);
  const contact = one ? find(one[1]) : undefined;
  if (!one) return refuse(404, "not_found", "Not found");
  if (!contact) return refuse(404, "not_found", "Contact not found");
  if (method === "GET") {
    const { segments: _segments, ...shown } = contact;
    return answer(200, { object: "contact", created_at: new Date(at).toISOString(), ...shown });
  }
  if (method === "PATCH") {
    if ("unsubscribed" in parsed) contact.unsubscribed = parsed.unsubscribed === true;
    if ("first_name" in parsed) contact.first_name = parsed.first_name as string | null;
    if ("last_name" in parsed) contact.last_name = parsed.last_name as string | null;
    return answer(200, { object: "contact", id: contact.id });
  }
  if (method === "DELETE") {
    api.contacts.delete(contact.id);
    return answer(200, { object: "contact", contact: contact.id, deleted: true });
  }
  return refuse(405, "method_not_allowed", "Method not allowed");
}
