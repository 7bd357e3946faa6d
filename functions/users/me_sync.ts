/**
 * `POST /clerk-events/users/me/sync`: the signed-in user's app makes their
 * own row in `public.users` exist now, before the `user.created` webhook has
 * gone through Svix, Inngest and the sync workflow (the sign-up race).
 *
 * The order is the point:
 * 1. CORS: only the configured origins get a grant; a preflight is answered.
 * 2. The Clerk session token (`Authorization: Bearer`) is verified; every
 *    failure is the same 401, with no hint of what failed.
 * 3. One user may call only so often (429 with `Retry-After`).
 * 4. A row synced recently is answered from the database: a page reload
 *    spends none of the instance's Backend API budget.
 * 5. Otherwise the user is read from Clerk's Backend API and applied with
 *    the webhooks' rules (newest `updated_at` wins, a tombstone stays one).
 *    The read goes first in the app's request budget (ahead of the
 *    reconcile, which leaves it headroom) and waits at most about 2 s for
 *    a slot; past that the answer is 503 with `Retry-After`.
 * 6. With organizations mirrored, the user's memberships too, through the
 *    port {@link MeSyncMemberships} that the organizations feature fills
 *    (`../organizations/me_sync_memberships.ts`): listed alongside the user
 *    whenever the user was read from Clerk, or when the token's active
 *    organization (`org_id`, or `o.id` in v2 tokens) is not among the live
 *    memberships stored, so that an app that just created or joined an
 *    organization sees it in Postgres before the webhook lands.
 *
 * Import this module lazily: it loads `jose`, which the webhook path never
 * needs.
 */
import type { ClerkBackendApi } from "../clerk/backend_api.ts";
import { createSessionTokenVerifier, type SessionTokenVerifier } from "../clerk/session_token.ts";
import { errorFields, type Logger } from "../util/log.ts";
import type { ClerkApiSettings } from "../settings/clerk_api.ts";
import type { SessionSettings } from "../settings/session.ts";
import { toUserRow } from "./user_row.ts";
import type { ApiSyncOutcome, SyncedUser, UsersStore } from "./users_store.ts";
import { corsHeaders, type CorsPolicy, isAllowedOrigin, preflightResponse } from "../http/cors.ts";
import { HttpError, json } from "../http/http_error.ts";
import { createRateLimiter, type RateLimiter } from "../http/rate_limiter.ts";
import {
  activeOrganization,
  clerkFailure,
  failureAnswer,
  gone,
  tooMany,
  verifiedClaims,
  withHeaders,
} from "./me_sync_answers.ts";

/** What {@link createMeSyncRoute} builds the route from. */
export interface MeSyncRouteOptions {
  readonly session: SessionSettings;
  readonly clerkApi: ClerkApiSettings;
  /** The app's Backend API client, whose request budget the reconcile shares. */
  readonly clerk: MeSyncClerk;
  readonly users: () => Promise<UsersStore>;
  /** Without it, memberships are not synced. */
  readonly memberships?: MeSyncMemberships;
  readonly logger: Logger;
  /** Used for the JWKS. */
  readonly fetch?: typeof fetch;
}

/**
 * The route as the app serves it: tokens checked with `CLERK_JWT_KEY`, or
 * else the JWKS fetched with `CLERK_SECRET_KEY`; users read with the app's
 * Backend API client, so that one request budget covers the reconcile and
 * this route.
 */
export function createMeSyncRoute(options: MeSyncRouteOptions) {
  const { session, clerkApi } = options;
  return createMeSyncHandler({
    verify: createSessionTokenVerifier({
      jwtKey: session.jwtKey,
      jwks: { apiUrl: clerkApi.apiUrl, secretKey: clerkApi.secretKey, fetch: options.fetch },
      authorizedParties: session.authorizedParties,
    }),
    clerk: options.clerk,
    users: options.users,
    memberships: options.memberships,
    allowedOrigins: session.corsAllowedOrigins,
    logger: options.logger,
  });
}

/** The Backend API call the route makes for the user. */
export type MeSyncClerk = Pick<ClerkBackendApi, "getUser">;

/** A live membership of the user, as the route answers it. */
export interface LiveMembership {
  readonly organization_id: string;
  readonly role: string;
}

/**
 * The memberships part of the route, declared here and filled by the
 * organizations feature. `Listed` is whatever `list` read, opaque to the
 * route. Calls that reach Clerk throw the Backend API client's errors,
 * which the route turns into its answers.
 */
export interface MeSyncMemberships<Listed = unknown> {
  /** The user's memberships as Clerk lists them now. */
  list(userId: string): Promise<Listed>;
  /** Applies what `list` read; resolves to the user's live memberships. */
  apply(userId: string, listed: Listed): Promise<readonly LiveMembership[]>;
  /** The user's live memberships as stored now. */
  stored(userId: string): Promise<readonly LiveMembership[]>;
}

/** Options for {@link createMeSyncHandler}. */
export interface MeSyncOptions {
  readonly verify: SessionTokenVerifier;
  readonly clerk: MeSyncClerk;
  readonly users: () => Promise<UsersStore>;
  /** Without it, memberships are not synced. */
  readonly memberships?: MeSyncMemberships;
  /** Origins that get a CORS grant. */
  readonly allowedOrigins: readonly string[];
  readonly logger: Logger;
  /** A row written or checked this recently is answered from the database. Default 300 s. */
  readonly freshForSeconds?: number;
  /** Counts calls per user. Default: 10 per minute per user. */
  readonly limiter?: RateLimiter;
  /** The clock, for tests. */
  readonly now?: () => Date;
}

/** What the route answers with 200. */
export interface MeSyncAnswer {
  readonly user: SyncedUser;
  readonly outcome: Exclude<ApiSyncOutcome, "deleted">;
  /** `database` when answered without calling Clerk. */
  readonly source: "clerk" | "database";
  /** The user's live memberships, when organizations are synced. */
  readonly memberships?: readonly LiveMembership[];
}

/** Default freshness window: five minutes. */
export const DEFAULT_FRESH_FOR_SECONDS = 300;

/** Creates the handler. It throws HttpError for every answer but 200 and 204. */
export function createMeSyncHandler(options: MeSyncOptions) {
  const { logger } = options;
  const freshFor = options.freshForSeconds ?? DEFAULT_FRESH_FOR_SECONDS;
  const limiter = options.limiter ?? createRateLimiter({ limit: 10, windowMs: 60_000 });
  const now = options.now ?? (() => new Date());
  const policy: CorsPolicy = {
    origins: options.allowedOrigins,
    methods: ["POST"],
    headers: ["authorization", "content-type"],
    exposeHeaders: ["retry-after"],
  };

  const sync = async (req: Request): Promise<MeSyncAnswer> => {
    const started = performance.now();
    const claims = await verifiedClaims(req, options.verify, logger);
    const id = claims.sub;
    const decision = limiter(id);
    if (!decision.allowed) {
      logger.warn("User sync refused: rate limit", { user_id: id });
      throw tooMany("rate_limited", "Too many sync requests", decision.retryAfterSeconds);
    }

    const store = await options.users();
    const stored = await store.findForSync(id, freshFor);
    let listed: Promise<unknown> | undefined;
    if (stored?.deleted) throw gone();
    let answer: MeSyncAnswer;
    if (stored?.fresh) {
      answer = { user: stored.user, outcome: "unchanged", source: "database" };
    } else {
      // The memberships are read alongside the user: one round trip to
      // Clerk, not two in a row.
      listed = options.memberships && askClerk(id, () => options.memberships!.list(id));
      listed?.catch(() => {}); // awaited below, or dropped with the user's 404
      const user = await fromClerk(id);
      if (!user) {
        // Clerk has no such user: erase the row as delete-user-from-clerk
        // would, so that no personal data outlives the account.
        if (stored) await store.markDeleted(id, now().toISOString());
        logger.info("User sync: not found in Clerk", { user_id: id, erased: Boolean(stored) });
        throw new HttpError(404, "user_not_found", "Clerk has no such user");
      }
      const result = await store.syncFromApi(toUserRow(user));
      if (result.outcome === "deleted" || !result.user) throw gone();
      answer = { user: result.user, outcome: result.outcome, source: "clerk" };
    }
    const memberships = await syncMemberships(id, activeOrganization(claims), listed);
    if (memberships) answer = { ...answer, memberships };
    logger.info("User synced on demand", {
      user_id: id,
      outcome: answer.outcome,
      source: answer.source,
      memberships: memberships?.length,
      duration_ms: Math.round(performance.now() - started),
    });
    return answer;
  };

  /**
   * The user's live memberships: `listed` (read from Clerk with the user)
   * applied; else as stored, while the token's active organization is
   * among them; otherwise read from Clerk now and applied.
   */
  const syncMemberships = async (
    id: string,
    activeOrg: string | undefined,
    listed: Promise<unknown> | undefined,
  ): Promise<readonly LiveMembership[] | undefined> => {
    const memberships = options.memberships;
    if (!memberships) return undefined;
    if (!listed) {
      const stored = await memberships.stored(id);
      if (!activeOrg || stored.some((m) => m.organization_id === activeOrg)) return stored;
    }
    return memberships.apply(id, await (listed ?? askClerk(id, () => memberships.list(id))));
  };

  /** Runs a Backend API call; its failure becomes the route's answer. */
  const askClerk = async <T>(id: string, call: () => Promise<T>): Promise<T> => {
    try {
      return await call();
    } catch (error) {
      logger.warn("User sync: Backend API failed", { user_id: id, ...errorFields(error) });
      throw clerkFailure(error);
    }
  };

  const fromClerk = (id: string) =>
    askClerk(id, () => options.clerk.getUser(id, { priority: "interactive" }));

  return async (req: Request): Promise<Response> => {
    if (req.method === "OPTIONS") return preflightResponse(policy, req);
    const origin = req.headers.get("origin");
    const cors = corsHeaders(policy, origin);
    try {
      if (req.method !== "POST") {
        throw new HttpError(405, "method_not_allowed", "Use POST", {
          headers: { allow: "POST, OPTIONS" },
        });
      }
      await req.body?.cancel();
      // Browsers send Origin on every cross-origin POST; a server calling
      // this route sends none and needs no grant.
      if (origin !== null && !isAllowedOrigin(policy, origin)) {
        throw new HttpError(403, "origin_not_allowed", "This origin may not call this route");
      }
      return json(200, await sync(req), { ...cors, "cache-control": "no-store" });
    } catch (error) {
      throw withHeaders(failureAnswer(error, logger), cors);
    }
  };
}
