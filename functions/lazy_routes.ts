/**
 * Routes whose modules load on their first request: the Inngest serve
 * handler, and `POST /users/me/sync` (jose and the Backend API client).
 * Neither is needed to answer a webhook (see the cold-start benchmark).
 */
import type { Inngest, InngestFunction } from "inngest";
import type { ClerkBackendApi } from "./clerk/backend_api.ts";
import { lazy } from "./lazy.ts";
import type { Logger } from "./log.ts";
import type { InngestSettings } from "./settings.ts";
import type { ClerkApiSettings } from "./settings/clerk_api.ts";
import type { SessionSettings } from "./settings/session.ts";
import type { UsersStore } from "./users/users_store.ts";

/** A route handler. */
export type Handler = (req: Request) => Promise<Response>;

/** `/clerk-events/inngest`: Inngest's serve handler for `functions`. */
export function inngestHandler(
  client: Inngest,
  functions: readonly InngestFunction.Any[],
  { servePath, serveOrigin }: InngestSettings,
): Handler {
  const handler = lazy(async () => {
    const { serve } = await import("inngest/edge");
    return serve({
      client,
      functions: [...functions],
      servePath,
      serveOrigin,
      // In cloud mode every request must carry Inngest's signature, sync
      // (PUT) included: an unsigned PUT would otherwise let anyone make the
      // function re-register itself, with a URL taken from their request.
      // Sync from the Inngest dashboard instead, which signs its request.
      enableUnauthedSync: false,
    });
  });
  return async (req) => (await handler())(req);
}

/** What {@link meSyncHandler} needs. */
export interface MeSyncDeps {
  readonly session: SessionSettings;
  readonly clerkApi: ClerkApiSettings;
  /** The app's Backend API client, whose request budget the reconcile shares. */
  readonly clerk: () => Promise<ClerkBackendApi>;
  readonly users: () => Promise<UsersStore>;
  readonly logger: Logger;
  readonly fetch?: typeof fetch;
}

/** `POST /clerk-events/users/me/sync`. */
export function meSyncHandler(deps: MeSyncDeps): Handler {
  const handler = lazy(async () => {
    const { createMeSyncRoute } = await import("./http/me_sync.ts");
    return createMeSyncRoute({ ...deps, clerk: await deps.clerk() });
  });
  return async (req) => (await handler())(req);
}
