/**
 * A small client of Clerk's Backend API (`GET /v1/users`, `GET /v1/users/{id}`)
 * over `fetch`, with typed errors that map to Inngest's retry decisions:
 *
 * - {@link ClerkRateLimitError} (429) carries `Retry-After` in seconds: a
 *   workflow turns it into `RetryAfterError`; so does
 *   {@link ClerkBudgetExhaustedError}, when the app's own request budget
 *   has no slot within the caller's longest wait (nothing was sent);
 * - {@link ClerkConfigurationError} (401, 403) means the secret key is wrong
 *   or lacks access: no retry can fix it (`NonRetriableError`);
 * - {@link ClerkApiError} for the rest: 5xx, network failures and timeouts
 *   are retriable, other refusals are `permanent`.
 *
 * Users are validated with the webhook path's `clerkUserSchema`, reduced to
 * the fields it reads (the rest of Clerk's User object is dropped). The
 * secret key only ever goes into the Authorization header; no message and
 * no log line carries it.
 */
import { z } from "zod";
import {
  type ClassifiedFailure,
  type FailureKind,
  failureKind,
  parseRetryAfter,
} from "../util/provider_failure.ts";
import { issuesText } from "../util/zod_issues.ts";
import { type ClerkUser, clerkUserSchema } from "./schemas.ts";
import {
  RequestBudgetExhaustedError,
  type RequestLimiter,
  type RequestPriority,
} from "./request_budget.ts";

/** A failed Backend API call, classified like every provider's (`../util/provider_failure.ts`). */
export class ClerkApiError extends Error implements ClassifiedFailure {
  /** The HTTP status, when Clerk answered. */
  readonly status: number | null;
  readonly kind: FailureKind;
  /** Whether repeating the same call can never succeed. */
  readonly permanent: boolean;

  constructor(message: string, status: number | undefined, permanent: boolean, cause?: unknown) {
    super(message, { cause });
    this.name = "ClerkApiError";
    this.status = status ?? null;
    this.permanent = permanent;
    const kind = failureKind(status);
    // An answer Clerk gave with 200 that cannot be read is as permanent as the flag says.
    this.kind = permanent ? "permanent" : kind === "permanent" ? "transient" : kind;
  }
}

/**
 * Clerk refused the secret key (401) or its access (403): wrong, revoked,
 * or being rotated. A workflow waits a long while before it retries
 * (`AUTH_RETRY_MS`), so that a rotation drops nothing.
 */
export class ClerkConfigurationError extends ClerkApiError {
  constructor(message: string, status: number) {
    super(message, status, false);
    this.name = "ClerkConfigurationError";
  }
}

/** Clerk's rate limit was hit (429); retry after `retryAfterSeconds`. */
export class ClerkRateLimitError extends ClerkApiError {
  readonly retryAfterSeconds: number;
  override readonly kind = "rate_limited";

  constructor(message: string, retryAfterSeconds: number, status: number | undefined = 429) {
    super(message, status, false);
    this.name = "ClerkRateLimitError";
    this.retryAfterSeconds = retryAfterSeconds;
  }

  /** {@link retryAfterSeconds} in ms, as every classified failure gives it. */
  get retryAfterMs(): number {
    return this.retryAfterSeconds * 1000;
  }
}

/**
 * The app's request budget for Clerk had no slot within the caller's
 * longest wait, so no request was sent; retry after `retryAfterSeconds`.
 */
export class ClerkBudgetExhaustedError extends ClerkRateLimitError {
  constructor(message: string, retryAfterSeconds: number) {
    super(message, retryAfterSeconds, undefined);
    this.name = "ClerkBudgetExhaustedError";
  }
}

/** Options of a single call. */
export interface CallOptions {
  /** Whose call this is, for the request budget. Default background. */
  readonly priority?: RequestPriority;
}

/** Sort orders of `GET /v1/users` this client uses. */
export type UserOrder = "+created_at" | "-created_at" | "+updated_at" | "-updated_at";

/** Query of {@link ClerkBackendApi.listUsers}. */
export interface ListUsersQuery {
  /** 1 to 500. */
  readonly limit: number;
  readonly offset: number;
  readonly orderBy: UserOrder;
}

/** The Backend API calls this project makes. */
export interface ClerkBackendApi {
  /** One page of users: `GET /v1/users`. */
  listUsers(query: ListUsersQuery): Promise<ClerkUser[]>;
  /** One user, or `null` when Clerk has no such user (404 `resource_not_found`). */
  getUser(id: string, options?: CallOptions): Promise<ClerkUser | null>;
}

/** Options for {@link createClerkBackendApi}. */
export interface ClerkBackendApiOptions {
  readonly secretKey: string;
  /** E.g. `https://api.clerk.com`, without `/v1`. */
  readonly apiUrl: string;
  readonly fetch?: typeof fetch;
  /** Waited on before each request, to stay under a request budget. */
  readonly limiter?: RequestLimiter;
  /** Longest wait for an answer. Default 15 s. */
  readonly timeoutMs?: number;
}

/** Most users `GET /v1/users` returns at once. */
export const MAX_PAGE_SIZE = 500;
/** Wait after a 429 without a usable `Retry-After`: Clerk's window is 10 s. */
const DEFAULT_RETRY_AFTER_SECONDS = 10;

const clerkErrorsSchema = z.looseObject({
  errors: z.array(z.looseObject({ code: z.string().optional(), message: z.string().optional() }))
    .min(1),
});

/** A GET of a Backend API path, paced by the request budget; typed errors for no answer. */
export type ClerkGet = (
  path: string,
  action: string,
  priority?: RequestPriority,
) => Promise<Response>;

/** The GET every call of the clients over `options` goes through. */
export function createClerkGet(options: ClerkBackendApiOptions): ClerkGet {
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const base = options.apiUrl.replace(/\/+$/, "");
  const timeoutMs = options.timeoutMs ?? 15_000;
  return async (path, action, priority = "background") => {
    try {
      await options.limiter?.acquire(priority);
    } catch (error) {
      if (!(error instanceof RequestBudgetExhaustedError)) throw error;
      throw new ClerkBudgetExhaustedError(`${action}: ${error.message}`, error.retryAfterSeconds);
    }
    try {
      return await fetchImpl(`${base}${path}`, {
        headers: { authorization: `Bearer ${options.secretKey}`, accept: "application/json" },
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      throw new ClerkApiError(`${action}: ${detail}`, undefined, false, error);
    }
  };
}

/** Creates the client. */
export function createClerkBackendApi(
  options: ClerkBackendApiOptions,
  get: ClerkGet = createClerkGet(options),
): ClerkBackendApi {
  return {
    async listUsers({ limit, offset, orderBy }) {
      const action = `Cannot list Clerk users at offset ${offset}`;
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) {
        throw new RangeError(`${action}: limit must be 1 to ${MAX_PAGE_SIZE}`);
      }
      const query = new URLSearchParams({
        limit: String(limit),
        offset: String(offset),
        order_by: orderBy,
      });
      const res = await get(`/v1/users?${query}`, action);
      if (!res.ok) throw await failure(res, action);
      const body = await readJson(res, action);
      if (!Array.isArray(body)) {
        throw new ClerkApiError(`${action}: expected a JSON array of users`, res.status, false);
      }
      return body.map((user, index) => parseUser(user, `${action}: user ${index}`));
    },

    async getUser(id, { priority } = {}) {
      const action = `Cannot get Clerk user "${id}"`;
      const res = await get(`/v1/users/${encodeURIComponent(id)}`, action, priority);
      if (await isNotFound(res, action)) return null;
      if (!res.ok) throw await failure(res, action);
      return parseUser(await readJson(res, action), action);
    },
  };
}

/**
 * Whether `res` is Clerk's 404 `resource_not_found` (the resource is gone);
 * a 404 without that code (a wrong URL, a proxy) is an error, not an answer.
 */
export async function isNotFound(res: Response, action: string): Promise<boolean> {
  if (res.status !== 404) return false;
  const errors = clerkErrorsSchema.safeParse(await readJson(res, action).catch(() => null));
  if (errors.success && errors.data.errors.some((e) => e.code === "resource_not_found")) {
    return true;
  }
  throw new ClerkApiError(`${action}: Clerk answered 404 without resource_not_found`, 404, false);
}

/** The JSON body of `res`, or a ClerkApiError. */
export async function readJson(res: Response, action: string): Promise<unknown> {
  try {
    return await res.json();
  } catch (error) {
    throw new ClerkApiError(`${action}: the answer is not JSON`, res.status, false, error);
  }
}

function parseUser(value: unknown, action: string): ClerkUser {
  const result = clerkUserSchema.safeParse(known(value));
  if (result.success) return result.data;
  throw new ClerkApiError(`${action}: not a Clerk user (${issuesText(result.error)})`, 200, true);
}

/**
 * Only the fields the schema reads: a User object carries about fifty, and
 * validating a page of 500 copied every one of them. Unknown fields are
 * thereby ignored, never rejected.
 */
function known(value: unknown): unknown {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return value;
  const user = value as Record<string, unknown>;
  const addresses = user.email_addresses;
  return {
    id: user.id,
    email_addresses: Array.isArray(addresses)
      ? addresses.map((a) =>
        typeof a === "object" && a !== null ? { id: a.id, email_address: a.email_address } : a
      )
      : addresses,
    primary_email_address_id: user.primary_email_address_id,
    first_name: user.first_name,
    last_name: user.last_name,
    username: user.username,
    image_url: user.image_url,
    created_at: user.created_at,
    updated_at: user.updated_at,
    // The newsletter's consent (its part of the reconcile reads it).
    unsafe_metadata: user.unsafe_metadata,
  };
}

/** The typed error for a non-2xx answer. */
export async function failure(res: Response, action: string): Promise<ClerkApiError> {
  const text = await res.text().catch(() => "");
  let code: string | undefined;
  try {
    const parsed = clerkErrorsSchema.safeParse(JSON.parse(text));
    if (parsed.success) code = parsed.data.errors[0].code;
  } catch {
    // Not Clerk's error shape (a proxy's page, say): the status says enough.
  }
  const detail = `Clerk answered ${res.status}${code ? ` (${code})` : ""}`;
  const kind = failureKind(res.status);
  if (kind === "rate_limited") {
    return new ClerkRateLimitError(`${action}: ${detail}`, retryAfterSeconds(res));
  }
  if (kind === "auth") {
    return new ClerkConfigurationError(
      `${action}: ${detail}; check CLERK_SECRET_KEY (the instance's secret key) and CLERK_API_URL`,
      res.status,
    );
  }
  return new ClerkApiError(`${action}: ${detail}`, res.status, kind === "permanent");
}

/** `Retry-After` in whole seconds, at least 1; Clerk's window without one. */
function retryAfterSeconds(res: Response): number {
  const ms = parseRetryAfter(res.headers.get("retry-after"));
  return ms === undefined ? DEFAULT_RETRY_AFTER_SECONDS : Math.max(1, Math.ceil(ms / 1000));
}
