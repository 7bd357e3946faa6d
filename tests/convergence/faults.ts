/**
 * Provider faults, applied to the app's requests on their way to a
 * stand-in (see `world.ts`). A history arms them; each answers the way that
 * provider answers (its status, its error body, its `Retry-After`), so the
 * app reads them with its real parsers:
 *
 * - `429`: rate limited, with `Retry-After` in seconds;
 * - `5xx`: the provider failed;
 * - `lost`: the provider did the work and the answer never arrived (the
 *   connection dropped);
 * - `timeout`: no answer in time, nothing done;
 * - `4xx`: a permanent refusal (the same request would fail again);
 * - `auth`: 401 for every request until a simulated time (a key being
 *   rotated), armed with {@link FaultPlan.authUntil}.
 *
 * A fault armed for `times` requests applies to the next requests of that
 * service in order; nothing here depends on real time.
 */
import type { SimClock } from "../support/sim_clock.ts";

/** The services the app reaches. */
export type Service = "clerk" | "mailchimp" | "resend" | "stripe" | "database" | "inngest";

/** A fault for one request. */
export type Fault = "429" | "5xx" | "lost" | "timeout" | "4xx";

/** Every fault kind, for the arbitraries. */
export const FAULTS: readonly Fault[] = ["429", "5xx", "lost", "timeout", "4xx"];

/** One armed fault. */
interface Armed {
  readonly fault: Fault;
  remaining: number;
  readonly retryAfterSeconds: number;
}

/** The faults a history armed, and what they did. */
export class FaultPlan {
  readonly #clock: SimClock;
  readonly #armed = new Map<Service, Armed[]>();
  readonly #authUntil = new Map<Service, number>();
  /** Faults applied, as `service fault` lines in order. */
  readonly applied: string[] = [];

  constructor(clock: SimClock) {
    this.#clock = clock;
  }

  /** The next `times` requests to `service` get `fault`. */
  arm(service: Service, fault: Fault, times = 1, retryAfterSeconds = 30): void {
    const list = this.#armed.get(service) ?? [];
    list.push({ fault, remaining: times, retryAfterSeconds });
    this.#armed.set(service, list);
  }

  /** Every request to `service` gets 401 until simulated time `until`. */
  authUntil(service: Service, until: number): void {
    this.#authUntil.set(service, Math.max(until, this.#authUntil.get(service) ?? 0));
  }

  /** Disarms everything: the faults are over. */
  clear(): void {
    this.#armed.clear();
    this.#authUntil.clear();
  }

  /** Answers `req` through `handle`, or with the fault armed for it. */
  async apply(
    service: Service,
    req: Request,
    handle: (req: Request) => Promise<Response>,
    record: { outcome: number | string },
  ): Promise<Response> {
    const fault = this.#next(service);
    if (fault === undefined) {
      const res = await handle(req);
      record.outcome = res.status;
      return res;
    }
    this.applied.push(`${service} ${fault.fault}`);
    record.outcome = fault.fault;
    switch (fault.fault) {
      case "lost": {
        const res = await handle(req);
        await res.body?.cancel();
        throw new TypeError(`error sending request: connection reset (simulated, ${service})`);
      }
      case "timeout":
        await req.body?.cancel();
        throw new DOMException("Signal timed out (simulated)", "TimeoutError");
      default:
        await req.body?.cancel();
        return errorAnswer(service, fault.fault, fault.retryAfterSeconds);
    }
  }

  #next(service: Service): { fault: Fault | "auth"; retryAfterSeconds: number } | undefined {
    const until = this.#authUntil.get(service);
    if (until !== undefined && this.#clock.now() < until) {
      return { fault: "auth", retryAfterSeconds: 0 };
    }
    const list = this.#armed.get(service);
    const armed = list?.[0];
    if (!armed) return undefined;
    armed.remaining -= 1;
    if (armed.remaining <= 0) list!.shift();
    return armed;
  }
}

/** A provider's own answer for `fault`. */
function errorAnswer(service: Service, fault: Fault | "auth", retryAfterSeconds: number) {
  const status = service === "database" && fault === "5xx"
    ? 503
    : { "429": 429, "5xx": 500, "4xx": 400, auth: 401 }[fault as string] ?? 500;
  const headers: Record<string, string> = status === 429
    ? { "retry-after": String(retryAfterSeconds) }
    : {};
  const body = errorBody(service, status);
  return Response.json(body, {
    status: service === "resend" && status === 400 ? 422 : status,
    headers,
  });
}

function errorBody(service: Service, status: number): unknown {
  const text = {
    429: "Too Many Requests",
    500: "Internal Server Error",
    400: "Invalid Resource",
    401: "API Key Invalid",
  }[status] ?? "Error";
  switch (service) {
    case "mailchimp":
      return { type: "about:blank", title: text, status, detail: text };
    case "resend": {
      const name = {
        429: "rate_limit_exceeded",
        500: "internal_server_error",
        400: "validation_error",
        401: "invalid_api_key",
      }[status];
      return { statusCode: status === 400 ? 422 : status, name, message: text };
    }
    case "stripe": {
      const type = status === 500 ? "api_error" : "invalid_request_error";
      const code = status === 429 ? "rate_limit" : status === 400 ? "parameter_invalid" : undefined;
      return { error: { type, ...(code ? { code } : {}), message: text } };
    }
    case "clerk": {
      const code = {
        429: "too_many_requests",
        500: "internal_clerk_error",
        400: "form_param_value_invalid",
        401: "authentication_invalid",
      }[status];
      return { errors: [{ code, message: text, long_message: text }], clerk_trace_id: "sim" };
    }
    case "database":
      return {
        code: status === 503 ? "PGRST000" : "PGRST301",
        message: text,
        details: null,
        hint: null,
      };
    default:
      return { error: text, status };
  }
}
