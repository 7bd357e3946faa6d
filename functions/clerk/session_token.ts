/**
 * Verifies Clerk session tokens: the short-lived RS256 JWTs that Clerk's
 * front-end SDKs hand out (`getToken()`), sent as `Authorization: Bearer`.
 *
 * Why `jose` (6.2.18) and not `@clerk/backend`'s `verifyToken`: both run on
 * Supabase's edge runtime, but `@clerk/backend` 3.25 brings `@clerk/shared`,
 * `@tanstack/query-core`, `standardwebhooks` and `tslib` with it: 12.4 MB of
 * npm packages by `deno info`, against 217 KB for `jose`, which has no
 * dependencies and verifies with Web Crypto. A deploy is bundled against a
 * 5 MB limit, and the edge runtime's bundler copies every reachable npm
 * package folder whole. Its `verifyToken` also throws where older docs show
 * `{ data, errors }`, and takes only 2048-bit RSA keys as `jwtKey`. `jose`
 * has the remote JWKS cache with a rate-limited refresh on an unknown `kid`,
 * so no signature or key handling is written here; Clerk's own claim checks
 * (`exp`, `nbf` and `iat` with a clock skew, `sub`, `azp`) are reproduced on
 * top of `jose.jwtVerify`.
 *
 * Import this module lazily: only the on-demand sync route needs it.
 */
import {
  createRemoteJWKSet,
  type CryptoKey,
  customFetch,
  importSPKI,
  type JWTPayload,
  jwtVerify,
} from "jose";

/** The claims of a verified Clerk session token that this app uses. */
export interface SessionClaims extends JWTPayload {
  /** The Clerk user id. */
  readonly sub: string;
  /** The session id. */
  readonly sid?: string;
  /** The origin the token was issued to. */
  readonly azp?: string;
}

/** Why a token was refused. Logged; never sent to the caller. */
export type SessionTokenProblem =
  | "malformed"
  | "expired"
  | "not_yet_valid"
  | "issued_in_future"
  | "signature"
  | "unknown_key"
  | "algorithm"
  | "claims"
  | "authorized_party";

/** The token is not a valid session token of this instance: answer 401. */
export class SessionTokenError extends Error {
  readonly problem: SessionTokenProblem;

  constructor(problem: SessionTokenProblem, options: { cause?: unknown } = {}) {
    super(`Cannot verify session token: ${problem.replaceAll("_", " ")}`, options);
    this.name = "SessionTokenError";
    this.problem = problem;
  }
}

/**
 * The keys to check tokens with could not be had (JWKS unreachable or
 * refused, or `CLERK_JWT_KEY` unusable): nothing is known about the token,
 * so answer 503, not 401.
 */
export class VerificationKeyError extends Error {
  constructor(detail: string, options: { cause?: unknown } = {}) {
    super(`Cannot load session token keys: ${detail}`, options);
    this.name = "VerificationKeyError";
  }
}

/** Options for {@link createSessionTokenVerifier}. */
export interface SessionTokenVerifierOptions {
  /** The instance's PEM public key; when set, no network call is made. */
  readonly jwtKey?: string;
  /** Otherwise the instance's JWKS, from the Backend API (`GET /v1/jwks`). */
  readonly jwks?: {
    readonly apiUrl: string;
    readonly secretKey: string;
    readonly fetch?: typeof fetch;
    /** How long a fetched key set is used before it is fetched again. Default 1 h. */
    readonly cacheMaxAgeMs?: number;
    /** Least time between two fetches caused by an unknown `kid`. Default 30 s. */
    readonly cooldownMs?: number;
    /** Default 5 s. */
    readonly timeoutMs?: number;
  };
  /** When non-empty, the `azp` claim must be one of these origins. */
  readonly authorizedParties?: readonly string[];
  /** Tolerance on `exp`, `nbf` and `iat`. Default 5 s, as Clerk's SDKs. */
  readonly clockSkewSeconds?: number;
  /** The current time, for tests. */
  readonly now?: () => Date;
}

/** Checks a session token and returns its claims, or throws. */
export type SessionTokenVerifier = (token: string) => Promise<SessionClaims>;

// Clerk signs session tokens with RS256 only; every other `alg`, `none`
// included, is refused before any key is looked at.
const ALGORITHMS = ["RS256"];

// jose error codes that say something about the token, not about the keys.
const TOKEN_PROBLEMS: Record<string, SessionTokenProblem> = {
  ERR_JWT_EXPIRED: "expired",
  ERR_JWT_CLAIM_VALIDATION_FAILED: "claims",
  ERR_JOSE_ALG_NOT_ALLOWED: "algorithm",
  ERR_JOSE_NOT_SUPPORTED: "algorithm",
  ERR_JWS_INVALID: "malformed",
  ERR_JWT_INVALID: "malformed",
  ERR_JWKS_NO_MATCHING_KEY: "unknown_key",
  ERR_JWKS_MULTIPLE_MATCHING_KEYS: "unknown_key",
  ERR_JWS_SIGNATURE_VERIFICATION_FAILED: "signature",
};

/** Creates a verifier from a PEM key or a JWKS source. */
export function createSessionTokenVerifier(
  options: SessionTokenVerifierOptions,
): SessionTokenVerifier {
  const key = keySource(options);
  const skew = options.clockSkewSeconds ?? 5;
  const parties = options.authorizedParties ?? [];
  const now = options.now ?? (() => new Date());

  return async (token) => {
    const at = now();
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, key, {
        algorithms: ALGORITHMS,
        clockTolerance: skew,
        currentDate: at,
        requiredClaims: ["sub", "exp"],
      }));
    } catch (error) {
      throw classify(error);
    }
    const nowSeconds = at.getTime() / 1000;
    if (typeof payload.iat === "number" && payload.iat > nowSeconds + skew) {
      throw new SessionTokenError("issued_in_future");
    }
    if (typeof payload.sub !== "string" || payload.sub === "") {
      throw new SessionTokenError("claims");
    }
    if (parties.length && (typeof payload.azp !== "string" || !parties.includes(payload.azp))) {
      throw new SessionTokenError("authorized_party");
    }
    return payload as SessionClaims;
  };
}

type KeyInput = Parameters<typeof jwtVerify>[1];

function keySource(options: SessionTokenVerifierOptions): KeyInput {
  if (options.jwtKey) {
    let imported: Promise<CryptoKey> | undefined;
    return () => {
      imported ??= importSPKI(options.jwtKey!, "RS256").catch((cause) => {
        imported = undefined;
        throw new VerificationKeyError("CLERK_JWT_KEY is not an RSA public key", { cause });
      });
      return imported;
    };
  }
  const jwks = options.jwks;
  if (!jwks) throw new TypeError("Cannot verify session tokens: give jwtKey or jwks");
  const url = new URL("v1/jwks", jwks.apiUrl.endsWith("/") ? jwks.apiUrl : `${jwks.apiUrl}/`);
  return createRemoteJWKSet(url, {
    headers: { authorization: `Bearer ${jwks.secretKey}` },
    cacheMaxAge: jwks.cacheMaxAgeMs ?? 60 * 60_000,
    cooldownDuration: jwks.cooldownMs ?? 30_000,
    timeoutDuration: jwks.timeoutMs ?? 5_000,
    [customFetch]: jwks.fetch,
  });
}

function classify(error: unknown): Error {
  if (error instanceof VerificationKeyError || error instanceof SessionTokenError) return error;
  const code = (error as { code?: unknown })?.code;
  const problem = typeof code === "string" ? TOKEN_PROBLEMS[code] : undefined;
  if (problem) {
    const claim = (error as { claim?: unknown }).claim;
    if (problem === "claims" && claim === "nbf") {
      return new SessionTokenError("not_yet_valid", { cause: error });
    }
    return new SessionTokenError(problem, { cause: error });
  }
  // A refused or unreachable JWKS, a key set that is not one, a timeout:
  // nothing is known about the token itself.
  const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return new VerificationKeyError(detail, { cause: error });
}
