/**
 * A local stand-in for the part of Stripe's API this app calls:
 * `POST /v1/customers`, `POST /v1/customers/{id}`, `DELETE /v1/customers/{id}`
 * and `POST /v1/subscriptions`, with Stripe's form-encoded bodies, its error
 * shape (`{ error: { type, code, message, param } }`) and its idempotency
 * rules:
 *
 * - a POST with an `Idempotency-Key` seen before, with the same method, path
 *   and parameters, replays the first answer (`Idempotent-Replayed: true`)
 *   and does nothing new;
 * - the same key with other parameters (or another path) is refused: 400
 *   `idempotency_error`;
 * - keys are kept 24 hours, by the stand-in's clock (pass a simulated one).
 *
 * It can lose an answer after doing the work (the connection drops before the
 * body arrives), answer 429 or 500, and refuses a wrong secret key with 401.
 *
 * It does not do the work it checks: `received` records every request, in
 * order and before any replay, with its parameters and what was answered,
 * so that tests count what the code under test really sent.
 */

/** Stripe keeps an idempotency key for 24 hours. */
export const IDEMPOTENCY_KEY_TTL_MS = 24 * 60 * 60 * 1000;

/** One request as it arrived, and what became of it. */
export interface StripeRequest {
  /** 1-based position among all requests. */
  readonly n: number;
  /** When it arrived, on the stand-in's clock. */
  readonly at: number;
  readonly method: string;
  readonly path: string;
  readonly idempotencyKey: string | null;
  /** The form parameters, flat: `metadata[clerk_user_id]`, `items[0][price]`. */
  readonly params: Readonly<Record<string, string>>;
  /** The status answered (or that would have been, for a lost answer). */
  status: number;
  /** Stripe's error type, for a refusal. */
  errorType?: string;
  /** The id of the object answered. */
  objectId?: string;
  /** The first answer to this key was replayed: nothing new was done. */
  replayed?: boolean;
  /** The work was done, and the answer never reached the caller. */
  lost?: boolean;
}

/** A customer the stand-in holds. */
export interface StandInCustomer {
  readonly id: string;
  email: string | null;
  name: string | null;
  readonly metadata: Record<string, string>;
  deleted: boolean;
}

/** A subscription the stand-in holds. */
export interface StandInSubscription {
  readonly id: string;
  readonly customer: string;
  readonly price: string;
  status: "trialing" | "canceled";
  readonly trialPeriodDays: number;
  readonly trialEnd: number;
  readonly missingPaymentMethod: string | undefined;
}

/** What to do to one request. */
export type StripeFault =
  | { readonly status: 429 | 500 }
  /** Do the work, then drop the connection before the answer. */
  | { readonly lose: true };

/** Options for {@link startStripeApi}. */
export interface StripeApiOptions {
  /** The key requests must carry as `Authorization: Bearer`. */
  readonly secretKey: string;
  /** The clock for key expiry and trial ends; default real time. */
  readonly now?: () => number;
}

/** A running stand-in. */
export interface StripeApi {
  /** The value for `STRIPE_API_URL`. */
  readonly url: string;
  /** Every request, before any replay: the raw record. */
  readonly received: StripeRequest[];
  readonly customers: Map<string, StandInCustomer>;
  readonly subscriptions: Map<string, StandInSubscription>;
  /** The fault for a request, if any; called once per request. */
  fault: (request: StripeRequest) => StripeFault | undefined;
  /** Live (not deleted) customers whose `metadata[clerk_user_id]` is `userId`. */
  liveCustomersOf(userId: string): StandInCustomer[];
  /** Every customer ever created for `userId`, deleted or not. */
  customersOf(userId: string): StandInCustomer[];
  /** The requests about `userId`: its customers and subscriptions, or keys naming it. */
  requestsOf(userId: string): StripeRequest[];
  /** Answers one request in process, as the server would (no socket). */
  readonly handle: (req: Request) => Promise<Response>;
  close(): Promise<void>;
}

interface SavedAnswer {
  readonly method: string;
  readonly path: string;
  readonly params: string;
  readonly status: number;
  readonly body: unknown;
  readonly objectId?: string;
  readonly at: number;
}

/** Starts the stand-in on a free loopback port. */
export function startStripeApi(options: StripeApiOptions): StripeApi {
  const now = options.now ?? Date.now;
  const received: StripeRequest[] = [];
  const customers = new Map<string, StandInCustomer>();
  const subscriptions = new Map<string, StandInSubscription>();
  const keys = new Map<string, SavedAnswer>();
  // Unique across stand-ins: a test run shares one database.
  const newId = (prefix: string) =>
    `${prefix}_${crypto.randomUUID().replaceAll("-", "").slice(0, 14)}`;

  const api: StripeApi = {
    url: "",
    received,
    customers,
    subscriptions,
    fault: () => undefined,
    liveCustomersOf: (userId) => api.customersOf(userId).filter((c) => !c.deleted),
    customersOf: (userId) =>
      [...customers.values()].filter((c) => c.metadata.clerk_user_id === userId),
    requestsOf: (userId) => {
      const mine = new Set(api.customersOf(userId).map((c) => c.id));
      return received.filter((r) =>
        r.idempotencyKey?.includes(userId) ||
        r.params["metadata[clerk_user_id]"] === userId ||
        mine.has(r.path.split("/")[3] ?? "") ||
        mine.has(r.params.customer ?? "")
      );
    },
    handle: (req) => handle(req),
    close: () => server.shutdown(),
  };

  /** Does the work of one request: the answer's status, body and object id. */
  const work = (
    method: string,
    path: string,
    params: Record<string, string>,
  ): { status: number; body: unknown; objectId?: string } => {
    const at = now();
    const customerPath = /^\/v1\/customers\/([^/]+)$/.exec(path);
    if (method === "POST" && path === "/v1/customers") {
      const customer: StandInCustomer = {
        id: newId("cus"),
        email: params.email || null,
        name: params.name || null,
        metadata: metadataOf(params),
        deleted: false,
      };
      customers.set(customer.id, customer);
      return { status: 200, body: customerJson(customer), objectId: customer.id };
    }
    if (customerPath && (method === "POST" || method === "DELETE")) {
      const customer = customers.get(customerPath[1]);
      if (!customer || customer.deleted) {
        return stripeError(404, "invalid_request_error", "resource_missing", "id");
      }
      if (method === "DELETE") {
        customer.deleted = true;
        for (const subscription of subscriptions.values()) {
          if (subscription.customer === customer.id) subscription.status = "canceled";
        }
        return {
          status: 200,
          body: { id: customer.id, object: "customer", deleted: true },
          objectId: customer.id,
        };
      }
      if ("email" in params) customer.email = params.email || null;
      if ("name" in params) customer.name = params.name || null;
      Object.assign(customer.metadata, metadataOf(params));
      return { status: 200, body: customerJson(customer), objectId: customer.id };
    }
    if (method === "POST" && path === "/v1/subscriptions") {
      const customer = customers.get(params.customer ?? "");
      if (!customer || customer.deleted) {
        return stripeError(400, "invalid_request_error", "resource_missing", "customer");
      }
      const price = params["items[0][price]"];
      if (!price) return stripeError(400, "invalid_request_error", "parameter_missing", "items");
      const days = Number(params.trial_period_days ?? 0);
      const subscription: StandInSubscription = {
        id: newId("sub"),
        customer: customer.id,
        price,
        status: "trialing",
        trialPeriodDays: days,
        trialEnd: Math.floor(at / 1000) + days * 86_400,
        missingPaymentMethod: params["trial_settings[end_behavior][missing_payment_method]"],
      };
      subscriptions.set(subscription.id, subscription);
      return {
        status: 200,
        body: {
          id: subscription.id,
          object: "subscription",
          customer: customer.id,
          status: subscription.status,
          trial_start: Math.floor(at / 1000),
          trial_end: subscription.trialEnd,
          metadata: metadataOf(params),
        },
        objectId: subscription.id,
      };
    }
    return stripeError(404, "invalid_request_error", "resource_missing", undefined);
  };

  const handle = async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    const text = await req.text();
    const params = Object.fromEntries(new URLSearchParams(text));
    const key = req.headers.get("idempotency-key");
    const record: StripeRequest = {
      n: received.length + 1,
      at: now(),
      method: req.method,
      path: url.pathname,
      idempotencyKey: key,
      params,
      status: 0,
    };
    received.push(record);
    const answer = (status: number, body: unknown, headers: HeadersInit = {}) => {
      record.status = status;
      const error = (body as { error?: { type?: string } }).error;
      if (error) record.errorType = error.type;
      return Response.json(body, {
        status,
        headers: { "request-id": `req_${record.n}`, ...headers },
      });
    };

    if (req.headers.get("authorization") !== `Bearer ${options.secretKey}`) {
      const { status, body } = stripeError(401, "invalid_request_error", undefined, undefined);
      return answer(status, body);
    }
    const fault = api.fault(record);
    if (fault && "status" in fault) {
      const { status, body } = stripeError(
        fault.status,
        fault.status === 429 ? "invalid_request_error" : "api_error",
        fault.status === 429 ? "rate_limit" : undefined,
        undefined,
      );
      return answer(status, body);
    }

    const canonical = JSON.stringify(Object.entries(params).sort());
    const saved = key && req.method === "POST" ? keys.get(key) : undefined;
    const live = saved && record.at - saved.at < IDEMPOTENCY_KEY_TTL_MS ? saved : undefined;
    let result: { status: number; body: unknown; objectId?: string };
    if (live) {
      if (live.method !== req.method || live.path !== url.pathname || live.params !== canonical) {
        const refusal = stripeError(400, "idempotency_error", undefined, undefined);
        return answer(refusal.status, refusal.body);
      }
      record.replayed = true;
      result = live;
    } else {
      result = work(req.method, url.pathname, params);
      if (key && req.method === "POST") {
        keys.set(key, {
          method: req.method,
          path: url.pathname,
          params: canonical,
          ...result,
          at: record.at,
        });
      }
    }
    record.objectId = result.objectId;
    if (fault && "lose" in fault) {
      record.status = result.status;
      record.lost = true;
      return lostAnswer();
    }
    return answer(result.status, result.body, live ? { "idempotent-replayed": "true" } : {});
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handle);
  (api as { url: string }).url = `http://127.0.0.1:${server.addr.port}`;
  return api;
}

/** An answer whose body never arrives: the connection drops after the headers. */
function lostAnswer(): Response {
  const body = new ReadableStream({
    start(controller) {
      controller.error(new Error("Stripe stand-in: this answer is lost on purpose"));
    },
  });
  return new Response(body, { status: 200, headers: { "content-type": "application/json" } });
}

function metadataOf(params: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(params).flatMap(([name, value]) => {
      const match = /^metadata\[([^\]]+)\]$/.exec(name);
      return match ? [[match[1], value]] : [];
    }),
  );
}

function customerJson(customer: StandInCustomer) {
  return {
    id: customer.id,
    object: "customer",
    email: customer.email,
    name: customer.name,
    metadata: customer.metadata,
  };
}

function stripeError(
  status: number,
  type: string,
  code: string | undefined,
  param: string | undefined,
): { status: number; body: unknown } {
  const messages: Record<string, string> = {
    idempotency_error:
      "Keys for idempotent requests can only be used with the same parameters they were first used with.",
    api_error: "Something went wrong on Stripe's end.",
  };
  const message = messages[type] ??
    (status === 401 ? "Invalid API Key provided" : code ?? "Invalid request");
  return {
    status,
    body: { error: { type, ...(code ? { code } : {}), ...(param ? { param } : {}), message } },
  };
}
