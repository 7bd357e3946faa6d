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
import type { BudgetClock } from "./clerk/request_budget.ts";
import { createAppReadiness, databaseCheck } from "./app/readiness.ts";
import { createAppServices } from "./app/services.ts";
import { stripeTrial } from "./stripe_trial/feature.ts";
import { createUnsubscribeLinks } from "./email/list_unsubscribe.ts";
import { createHealthHandler } from "./http/health.ts";
import { errorResponse, HttpError } from "./http/http_error.ts";
import { matchRoute, pathOf, type Route } from "./http/routes.ts";
import { createWebhookHandler } from "./http/webhook.ts";
import { APP_ID, createInngestClient } from "./inngest/client.ts";
import {
  type Handler,
  inngestHandler,
  meSyncHandler,
  resendWebhookHandler,
  unsubscribeHandler,
} from "./app/lazy_routes.ts";
import { createLogger, errorFields, type Logger } from "./util/log.ts";
import type { Readiness } from "./health/readiness.ts";
import { createSendBatcher } from "./inngest/send_batcher.ts";
import {
  allProblems,
  type Env,
  parseSettings,
  type Settings,
  type SettingsGroup,
} from "./settings.ts";
import { devModeRefusal } from "./settings/deployment.ts";
import { EMAIL_DEFAULTS } from "./settings/email.ts";
import { createVerifier } from "./svix/verify.ts";
import { PACKAGE_VERSIONS } from "./health/versions.ts";
import { createDeleteUserFunction } from "./users/delete_user.ts";
import { createOnboardingFunction } from "./onboarding/onboarding_emails.ts";
import { createReconcileFunction } from "./reconcile/reconcile_users.ts";
import { createSyncUserFunction } from "./users/sync_user.ts";
import { wireNewsletter } from "./newsletter/feature.ts";
import { createSyncOrganizationFunction } from "./organizations/sync_organization.ts";
import { createSyncMembershipFunction } from "./organizations/sync_organization_membership.ts";

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
  /** The Clerk request budget's time and timers (tests). */
  readonly clerkBudgetClock?: BudgetClock;
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

  // Built on first use: the webhook path loads none of them.
  const services = createAppServices(settings, options.fetch, options.clerkBudgetClock);
  const { users, preferences, clerk } = services;
  const unsubscribe = settings.unsubscribe.ok ? settings.unsubscribe.value : undefined;
  const emailDefaults = settings.email.ok ? settings.email.value : EMAIL_DEFAULTS;

  // Undefined while the Stripe trial is off.
  const stripe = stripeTrial(settings, services, logger, options.fetch);

  const { readiness, inngestUnreachableHint } = createAppReadiness({
    settings,
    checkDatabase: settings.database.ok ? databaseCheck(services.supabase) : undefined,
    devServeUrl: options.devServeUrl,
    fetch: options.fetch,
  });

  const newsletter = wireNewsletter({ settings, services, inngest, logger, fetch: options.fetch });
  const functions = inngest
    ? [
      createSyncUserFunction(inngest, { users, logger }),
      createDeleteUserFunction(inngest, { users, logger }),
      createOnboardingFunction(inngest, {
        email: services.email,
        users,
        deliveries: services.deliveries,
        preferences,
        unsubscribeLinks: unsubscribe && createUnsubscribeLinks(unsubscribe),
        mailer: services.mailer,
        logger,
        trialOfferDelay: emailDefaults.trialOfferDelay,
        maxSendsPerSecond: emailDefaults.maxSendsPerSecond,
        billing: stripe?.billing,
      }),
      createReconcileFunction(inngest, {
        clerk,
        store: services.reconcileStore,
        logger,
        // Without valid Clerk API settings there is no schedule; a requested
        // run fails at once, naming the problem.
        cron: settings.clerkApi.ok ? settings.clerkApi.value.reconcileCron : undefined,
        organizations: { clerk, store: services.organizationsReconcileStore },
        ...options.reconcile,
      }),
      ...newsletter.functions,
      createSyncOrganizationFunction(inngest, { organizations: services.organizations, logger }),
      createSyncMembershipFunction(inngest, { organizations: services.organizations, logger }),
      ...(stripe?.functions(inngest) ?? []),
    ]
    : [];

  const routes: Record<Route, Handler> = {
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
      ? unsubscribeHandler({
        settings: unsubscribe,
        preferences,
        logger,
        appName: settings.email.ok ? settings.email.value.appName : undefined,
        afterOptOut: newsletter.requestUnsubscribe,
      })
      : unavailable([settings.unsubscribe, settings.database]),
    "resend-webhook": settings.resendWebhook.ok && settings.database.ok
      ? resendWebhookHandler({
        settings: settings.resendWebhook.value,
        preferences,
        logger,
        maxBodyBytes: options.maxBodyBytes,
      })
      : unavailable([settings.resendWebhook, settings.database]),
    "mailchimp-webhook": newsletter.mailchimpWebhook,
    health: createHealthHandler({
      settings,
      appId: APP_ID,
      functionIds: functions.map((fn) => fn.id()),
      versions: PACKAGE_VERSIONS,
      readiness,
    }),
    "users/me/sync": settings.session.ok && settings.clerkApi.ok && settings.database.ok
      ? meSyncHandler({
        session: settings.session.value,
        clerkApi: settings.clerkApi.value,
        clerk,
        users,
        organizations: services.organizations,
        logger,
        fetch: options.fetch,
      })
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

function unavailable(groups: readonly SettingsGroup<unknown>[]) {
  const problems = groups.flatMap((group) => group.ok ? [] : group.problems);
  return (): Promise<Response> => {
    throw new HttpError(503, "not_configured", `Not configured: ${problems.join("; ")}`);
  };
}
