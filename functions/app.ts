/**
 * The whole function as one `(req: Request) => Promise<Response>`, built from
 * the environment once. The Supabase entrypoint and `deno task dev` both
 * serve it; tests call it directly.
 *
 * Invalid settings do not stop the function from starting: `/health` must
 * still say what is wrong. Each route needs some groups of settings and
 * answers 503, naming the problems, while those are invalid, so that Svix
 * and Inngest retry and nothing is lost while the secret is being fixed.
 */
import type { Inngest, InngestFunction } from "inngest";
import { createVerifier } from "./svix/verify.ts";
import { callRpc } from "./database/rpc.ts";
import { createHealthHandler } from "./http/health.ts";
import { errorResponse, HttpError } from "./http/http_error.ts";
import { matchRoute, pathOf, type Route } from "./http/routes.ts";
import { createWebhookHandler } from "./http/webhook.ts";
import { createSendBatcher } from "./send_batcher.ts";
import { APP_ID, createInngestClient } from "./inngest_client.ts";
import { lazy } from "./lazy.ts";
import { createLogger, errorFields, type Logger } from "./log.ts";
import {
  allProblems,
  type Env,
  type InngestSettings,
  parseSettings,
  type Settings,
  type SettingsGroup,
} from "./settings.ts";
import type { UsersStore } from "./users/users_store.ts";
import type { ClerkApiSettings } from "./settings/clerk_api.ts";
import type { SessionSettings } from "./settings/session.ts";
import type { ClerkBackendApi } from "./clerk/backend_api.ts";
import type { DeliveriesStore } from "./email/deliveries_store.ts";
import type { Mailer } from "./email/mailer.ts";
import { createUnsubscribeLinks } from "./email/list_unsubscribe.ts";
import type { EmailPreferencesStore } from "./email/preferences_store.ts";
import { createUnsubscribeTokens } from "./email/unsubscribe_token.ts";
import { createResendWebhookHandler } from "./http/resend_webhook.ts";
import { createUnsubscribeHandler } from "./http/unsubscribe.ts";
import { createOnboardingFunction } from "./workflows/onboarding_emails.ts";
import { PACKAGE_VERSIONS } from "./versions.ts";
import type { Readiness } from "./readiness.ts";
import { createAppReadiness } from "./app_readiness.ts";
import { devModeRefusal } from "./settings/deployment.ts";
import { createDeleteUserFunction } from "./workflows/delete_user.ts";
import { createSyncUserFunction } from "./workflows/sync_user.ts";
import { createReconcileFunction } from "./workflows/reconcile_users.ts";
import type { ReconcileStore } from "./users/reconcile_store.ts";

/** Options for {@link createApp}; all optional, for tests and benchmarks. */
export interface AppOptions {
  readonly logger?: Logger;
  /** Used for every outgoing request (Inngest, Supabase). */
  readonly fetch?: typeof fetch;
  /** Keeps work alive after a response, e.g. `EdgeRuntime.waitUntil`. */
  readonly waitUntil?: (promise: Promise<unknown>) => void;
  readonly maxBodyBytes?: number;
  readonly sendDeadlineMs?: number;
  readonly inngestRequestTimeoutMs?: number;
  /** This function's /inngest URL as the Dev Server should call it (dev mode hints). */
  readonly devServeUrl?: string;
  /** Sizes of the reconcile workflow's pages and steps (default 500, 10 and 25). */
  readonly reconcile?: {
    readonly pageSize?: number;
    readonly pagesPerStep?: number;
    readonly confirmBatchSize?: number;
  };
}

/** The built app. */
export interface App {
  readonly handler: (req: Request) => Promise<Response>;
  readonly settings: Settings;
  /** Absent while the Inngest settings are invalid. */
  readonly inngest?: Inngest;
  readonly functions: readonly InngestFunction.Any[];
  /** What `/health` reports, for the dev banner; checks are cached. */
  readonly readiness: () => Promise<Readiness>;
}

/** Builds the app from `env`, e.g. `Deno.env.toObject()`. */
export function createApp(env: Env, options: AppOptions = {}): App {
  const logger = options.logger ?? createLogger();
  const settings = parseSettings(env);
  const problems = allProblems(settings);
  if (problems.length) {
    logger.error("Invalid settings", { problems: problems.join("; ") });
  }
  const refusal = devModeRefusal(env);
  if (refusal) {
    logger.error("Dev mode refused: /inngest and /webhook answer 503", { reason: refusal });
  }

  const inngest = settings.inngest.ok
    ? createInngestClient({
      settings: settings.inngest.value,
      logger,
      fetch: options.fetch,
      requestTimeoutMs: options.inngestRequestTimeoutMs,
    })
    : undefined;

  // Loaded on first use, so that the webhook path never imports supabase-js
  // or resend (see the cold-start benchmark).
  const supabase = lazy(async () => {
    const database = required(settings.database, "Cannot reach the database");
    const { createServiceClient } = await import("./database/supabase_client.ts");
    return createServiceClient(database, options.fetch);
  });
  const users = lazy(async (): Promise<UsersStore> => {
    const { createSupabaseUsersStore } = await import("./users/supabase_users_store.ts");
    return createSupabaseUsersStore(await supabase());
  });
  const deliveries = lazy(async (): Promise<DeliveriesStore> => {
    const { createSupabaseDeliveriesStore } = await import("./email/supabase_deliveries_store.ts");
    return createSupabaseDeliveriesStore(await supabase());
  });
  const preferences = lazy(async (): Promise<EmailPreferencesStore> => {
    const { createSupabasePreferencesStore } = await import(
      "./email/supabase_preferences_store.ts"
    );
    return createSupabasePreferencesStore(await supabase());
  });
  const unsubscribe = settings.unsubscribe.ok ? settings.unsubscribe.value : undefined;
  const email = () => required(settings.email, "Cannot send email");
  const mailer = lazy(async (): Promise<Mailer> => {
    const { resendApiKey, resendBaseUrl } = email();
    if (!resendApiKey) throw new Error("Cannot send email: RESEND_API_KEY is missing");
    const { createResendMailer } = await import("./email/resend_mailer.ts");
    return createResendMailer({ apiKey: resendApiKey, baseUrl: resendBaseUrl });
  });
  // One Backend API client for the app: one request budget for every call.
  const clerk = lazy(async () => {
    const { configuredClerkApi } = await import("./clerk/configured_api.ts");
    return configuredClerkApi(settings.clerkApi, "Cannot call Clerk's Backend API", options.fetch);
  });
  const reconcileStore = lazy(async (): Promise<ReconcileStore> => {
    const { createSupabaseReconcileStore } = await import("./users/supabase_reconcile_store.ts");
    return createSupabaseReconcileStore(await supabase());
  });
  const emailDefaults = settings.email.ok
    ? settings.email.value
    : { trialOfferDelay: "3d", maxSendsPerSecond: 2 };

  const { readiness, inngestUnreachableHint } = createAppReadiness({
    settings,
    checkDatabase: settings.database.ok
      ? async () => (await callRpc(await supabase(), "clerk_events_health", {})) === "ok"
      : undefined,
    devServeUrl: options.devServeUrl,
    fetch: options.fetch,
  });

  const functions = inngest
    ? [
      createSyncUserFunction(inngest, { users, logger }),
      createDeleteUserFunction(inngest, { users, logger }),
      createOnboardingFunction(inngest, {
        email,
        users,
        deliveries,
        preferences,
        unsubscribeLinks: unsubscribe && createUnsubscribeLinks(unsubscribe),
        mailer,
        logger,
        trialOfferDelay: emailDefaults.trialOfferDelay,
        maxSendsPerSecond: emailDefaults.maxSendsPerSecond,
      }),
      createReconcileFunction(inngest, {
        clerk,
        store: reconcileStore,
        logger,
        // Without valid Clerk API settings there is no schedule; a requested
        // run fails at once, naming the problem.
        cron: settings.clerkApi.ok ? settings.clerkApi.value.reconcileCron : undefined,
        ...options.reconcile,
      }),
    ]
    : [];

  const routes: Record<Route, (req: Request) => Promise<Response>> = {
    webhook: settings.webhook.ok && inngest
      ? createWebhookHandler({
        verify: createVerifier(settings.webhook.value.signingSecrets),
        send: createSendBatcher((events) => inngest.send(events)),
        logger,
        maxBodyBytes: options.maxBodyBytes,
        sendDeadlineMs: options.sendDeadlineMs,
        waitUntil: options.waitUntil,
        unreachableHint: inngestUnreachableHint,
      })
      : unavailable([settings.webhook, settings.inngest]),
    inngest: inngest && settings.inngest.ok
      ? inngestHandler(inngest, functions, settings.inngest.value)
      : unavailable([settings.inngest]),
    unsubscribe: unsubscribe && settings.database.ok
      ? createUnsubscribeHandler({
        tokens: createUnsubscribeTokens(unsubscribe.secrets),
        preferences,
        logger,
        appName: settings.email.ok ? settings.email.value.appName : undefined,
      })
      : unavailable([settings.unsubscribe, settings.database]),
    "resend-webhook": settings.resendWebhook.ok && settings.database.ok
      ? createResendWebhookHandler({
        verify: createVerifier(settings.resendWebhook.value.signingSecrets),
        preferences,
        logger,
        maxBodyBytes: options.maxBodyBytes,
      })
      : unavailable([settings.resendWebhook, settings.database]),
    health: createHealthHandler({
      settings,
      appId: APP_ID,
      functionIds: functions.map((fn) => fn.id()),
      versions: PACKAGE_VERSIONS,
      readiness,
    }),
    "users/me/sync": settings.session.ok && settings.clerkApi.ok && settings.database.ok
      ? meSyncHandler(
        settings.session.value,
        settings.clerkApi.value,
        clerk,
        users,
        logger,
        options,
      )
      : unavailable([settings.session, settings.clerkApi, settings.database]),
  };

  const handler = async (req: Request): Promise<Response> => {
    try {
      const route = matchRoute(pathOf(req.url));
      if (!route) throw new HttpError(404, "not_found", "No such route");
      return await routes[route](req);
    } catch (error) {
      if (!(error instanceof HttpError)) logger.error("Unhandled error", errorFields(error));
      return errorResponse(error);
    }
  };
  return { handler, settings, inngest, functions, readiness };
}

function required<T>(group: SettingsGroup<T>, action: string): T {
  if (group.ok) return group.value;
  throw new Error(`${action}: ${group.problems.join("; ")}`);
}

/**
 * The Inngest serve handler, loaded on the first /inngest request: its
 * modules are not needed to answer a webhook (see the cold-start benchmark).
 */
function inngestHandler(
  client: Inngest,
  functions: readonly InngestFunction.Any[],
  { servePath, serveOrigin }: InngestSettings,
): (req: Request) => Promise<Response> {
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

/**
 * `POST /clerk-events/users/me/sync`, loaded on its first request: `jose`
 * and the Backend API client are not needed to answer a webhook.
 */
function meSyncHandler(
  session: SessionSettings,
  clerkApi: ClerkApiSettings,
  clerk: () => Promise<ClerkBackendApi>,
  users: () => Promise<UsersStore>,
  logger: Logger,
  options: AppOptions,
): (req: Request) => Promise<Response> {
  const handler = lazy(async () => {
    const { createMeSyncRoute } = await import("./http/me_sync.ts");
    return createMeSyncRoute({
      session,
      clerkApi,
      clerk: await clerk(),
      users,
      logger,
      fetch: options.fetch,
    });
  });
  return async (req) => (await handler())(req);
}

function unavailable(groups: readonly SettingsGroup<unknown>[]) {
  const problems = groups.flatMap((group) => group.ok ? [] : group.problems);
  return (): Promise<Response> => {
    throw new HttpError(503, "not_configured", `Not configured: ${problems.join("; ")}`);
  };
}
