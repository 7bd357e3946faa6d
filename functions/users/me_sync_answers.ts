/**
 * The answers of `POST /users/me/sync` other than 200, in one place: what a
 * session token, Clerk or the database failing becomes, each with the
 * `Retry-After` the caller should honour.
 */
import {
  ClerkBudgetExhaustedError,
  ClerkConfigurationError,
  ClerkRateLimitError,
} from "../clerk/backend_api.ts";
import {
  type SessionClaims,
  SessionTokenError,
  type SessionTokenVerifier,
  VerificationKeyError,
} from "../clerk/session_token.ts";
import { DatabaseError } from "../database/rpc.ts";
import { HttpError } from "../http/http_error.ts";
import { errorFields, type Logger } from "../util/log.ts";

/** Longest token accepted; Clerk's session tokens are one or two KiB. */
const MAX_TOKEN_LENGTH = 8 * 1024;
const BEARER = /^Bearer\s+([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)\s*$/i;

/**
 * The verified claims of the request's `Authorization: Bearer` session
 * token. Every failure of the token is the same 401, with no hint of what
 * failed (the log line says); keys that cannot be fetched are a 503.
 */
export async function verifiedClaims(
  req: Request,
  verify: SessionTokenVerifier,
  logger: Logger,
): Promise<SessionClaims> {
  const header = req.headers.get("authorization") ?? "";
  const token = header.length <= MAX_TOKEN_LENGTH + 16 ? BEARER.exec(header)?.[1] : undefined;
  if (!token) {
    logger.warn("User sync refused: session token", { reason: header ? "malformed" : "missing" });
    throw unauthorized();
  }
  try {
    return await verify(token);
  } catch (error) {
    if (error instanceof SessionTokenError) {
      logger.warn("User sync refused: session token", { reason: error.problem });
      throw unauthorized();
    }
    if (error instanceof VerificationKeyError) {
      logger.error("User sync unavailable: session token keys", errorFields(error));
      throw new HttpError(503, "verification_unavailable", "Cannot verify session tokens now", {
        headers: { "retry-after": "5" },
      });
    }
    throw error;
  }
}

/** The session token's active organization: `org_id` (v1) or `o.id` (v2). */
export function activeOrganization(claims: Record<string, unknown>): string | undefined {
  if (typeof claims.org_id === "string" && claims.org_id) return claims.org_id;
  const o = claims.o;
  if (typeof o === "object" && o !== null && typeof (o as { id?: unknown }).id === "string") {
    return (o as { id: string }).id || undefined;
  }
  return undefined;
}

/** What a failed Backend API call answers: 503 or 429 with Retry-After, else 502. */
export function clerkFailure(error: unknown): HttpError {
  if (error instanceof ClerkBudgetExhaustedError) {
    return new HttpError(503, "clerk_budget_exhausted", "Too many requests to Clerk now", {
      headers: { "retry-after": String(error.retryAfterSeconds) },
    });
  }
  if (error instanceof ClerkRateLimitError) {
    return tooMany("clerk_rate_limited", "Clerk is rate limiting", error.retryAfterSeconds);
  }
  if (error instanceof ClerkConfigurationError) {
    return new HttpError(503, "clerk_unavailable", "Cannot reach Clerk's Backend API");
  }
  return new HttpError(502, "clerk_unavailable", "Cannot reach Clerk's Backend API");
}

/** Any failure as an answer: a database that does not answer is a 503, the unexpected a 500. */
export function failureAnswer(error: unknown, logger: Logger): HttpError {
  if (error instanceof HttpError) return error;
  if (error instanceof DatabaseError) {
    logger.error("User sync failed: database", errorFields(error));
    return new HttpError(503, "database_unavailable", "Cannot reach the database now", {
      headers: { "retry-after": "5" },
      cause: error,
    });
  }
  logger.error("User sync failed", errorFields(error));
  return new HttpError(500, "internal_error", "Internal error", { cause: error });
}

function unauthorized(): HttpError {
  return new HttpError(401, "invalid_token", "Missing or invalid session token", {
    headers: { "www-authenticate": "Bearer" },
  });
}

/** 410: the user is a tombstone. */
export function gone(): HttpError {
  return new HttpError(410, "user_deleted", "This user was deleted");
}

/** 429 with `Retry-After`. */
export function tooMany(code: string, message: string, retryAfterSeconds: number): HttpError {
  return new HttpError(429, code, message, {
    headers: { "retry-after": String(retryAfterSeconds) },
  });
}

/** `error` with `headers` added: the browser can only read an error answer that carries the CORS grant. */
export function withHeaders(error: HttpError, headers: Record<string, string>): HttpError {
  return new HttpError(error.status, error.code, error.message, {
    headers: { ...error.headers, ...headers },
    cause: error.cause,
  });
}
