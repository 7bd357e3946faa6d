/**
 * Routes whose modules load on their first request: the Inngest serve
 * handler, `POST /users/me/sync` (jose and the Backend API client),
 * `/unsubscribe` and `/resend-webhook`. None is needed to answer a Clerk
 * webhook, and loading them at start-up is cold start (see the benchmark).
 */
import type { Inngest, InngestFunction } from "inngest";
import type { ClerkClient } from "../clerk/configured_api.ts";
import type { OrganizationsStore } from "../organizations/store.ts";
import type { EmailPreferencesStore } from "../email/preferences_store.ts";
import { lazy } from "../util/lazy.ts";
import type { Logger } from "../util/log.ts";
import type { InngestSettings } from "../settings.ts";
import type { ClerkApiSettings } from "../settings/clerk_api.ts";
import type { SessionSettings } from "../settings/session.ts";
import type { ResendWebhookSettings, UnsubscribeSettings } from "../settings/email_compliance.ts";
import type { UsersStore } from "../users/users_store.ts";

/** A route handler. */
export type Handler = (req: Request) => Promise<Response>;

/** A handler built by `load` on its first request, then reused. */
export function lazyHandler(load: () => Promise<Handler>): Handler {
  const handler = lazy(load);
  return async (req) => (await handler())(req);
}

/** `/clerk-events/inngest`: Inngest's serve handler for `functions`. */
export function inngestHandler(
  client: Inngest,
  functions: readonly InngestFunction.Any[],
  { servePath, serveOrigin }: InngestSettings,
): Handler {
  return lazyHandler(async () => {
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
}

/** What {@link meSyncHandler} needs. */
export interface MeSyncDeps {
  readonly session: SessionSettings;
  readonly clerkApi: ClerkApiSettings;
  /** The app's Backend API client, whose request budget the reconcile shares. */
  readonly clerk: () => Promise<ClerkClient>;
  readonly users: () => Promise<UsersStore>;
  readonly organizations?: () => Promise<OrganizationsStore>;
  readonly logger: Logger;
  readonly fetch?: typeof fetch;
}

/** `POST /clerk-events/users/me/sync`. */
export function meSyncHandler(deps: MeSyncDeps): Handler {
  return lazyHandler(async () => {
    const { createMeSyncRoute } = await import("../users/me_sync.ts");
    return createMeSyncRoute({ ...deps, clerk: await deps.clerk() });
  });
}

/** What {@link unsubscribeHandler} needs. */
export interface UnsubscribeDeps {
  readonly settings: UnsubscribeSettings;
  readonly preferences: () => Promise<EmailPreferencesStore>;
  readonly logger: Logger;
  readonly appName?: string;
  /** Tells the newsletter's workflow about an opt-out (see `../newsletter/wiring.ts`). */
  readonly afterOptOut?: (userId: string) => Promise<void>;
}

/** `GET, POST /clerk-events/unsubscribe`. */
export function unsubscribeHandler({ settings, ...deps }: UnsubscribeDeps): Handler {
  return lazyHandler(async () => {
    const [{ createUnsubscribeHandler }, { createUnsubscribeTokens }] = await Promise.all([
      import("../deliverability/unsubscribe.ts"),
      import("../email/unsubscribe_token.ts"),
    ]);
    return createUnsubscribeHandler({ ...deps, tokens: createUnsubscribeTokens(settings.secrets) });
  });
}

/** What {@link resendWebhookHandler} needs. */
export interface ResendWebhookDeps {
  readonly settings: ResendWebhookSettings;
  readonly preferences: () => Promise<EmailPreferencesStore>;
  readonly logger: Logger;
  readonly maxBodyBytes?: number;
}

/** `POST /clerk-events/resend-webhook`. */
export function resendWebhookHandler({ settings, ...deps }: ResendWebhookDeps): Handler {
  return lazyHandler(async () => {
    const [{ createResendWebhookHandler }, { createVerifier }] = await Promise.all([
      import("../deliverability/resend_webhook.ts"),
      import("../svix/verify.ts"),
    ]);
    return createResendWebhookHandler({
      ...deps,
      verify: createVerifier(settings.signingSecrets),
    });
  });
}
