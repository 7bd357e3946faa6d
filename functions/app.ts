/**
 * The whole function as one `(req: Request) => Promise<Response>`, built
 * from the environment once: the composition root. The Supabase entrypoint
 * and `deno task dev` both serve it; tests call it directly.
 *
 * It reads as a table of contents: the core (settings, logger, Inngest
 * client, shared services), then the list of features, each a folder of
 * `functions/` with the same shape (`feature/feature.ts`), connected here
 * where one fills a port another declares.
 *
 * Invalid settings do not stop the function from starting: `/health` must
 * still say what is wrong. Each route needs some groups of settings and
 * answers 503, naming the problems, while those are invalid, so that Svix
 * and Inngest retry and nothing is lost while the secret is being fixed.
 */
import { compose } from "./app/compose.ts";
import { coreRoutes, routeTable } from "./app/core_routes.ts";
import { createAppReadiness, databaseCheck } from "./app/readiness.ts";
import { createServices } from "./app/services.ts";
import type { App, AppOptions } from "./app/types.ts";
import { authEmailsFeature } from "./auth_emails/feature.ts";
import { clerkBillingFeature } from "./clerk_billing/feature.ts";
import { deliverabilityFeature } from "./deliverability/feature.ts";
import type { Feature, FeatureContext } from "./feature/feature.ts";
import { errorResponse, HttpError } from "./http/http_error.ts";
import { matchRoute, pathOf } from "./http/routes.ts";
import { createInngestClient } from "./inngest/client.ts";
import { newsletterFeature } from "./newsletter/feature.ts";
import { onboardingFeature } from "./onboarding/feature.ts";
import { organizationsFeature } from "./organizations/feature.ts";
import { reconcileFeature } from "./reconcile/feature.ts";
import { allProblems, type Env, parseSettings } from "./settings.ts";
import { devModeRefusal } from "./settings/deployment.ts";
import { stripeTrialFeature } from "./stripe_trial/feature.ts";
import { usersFeature } from "./users/feature.ts";
import { createLogger, errorFields } from "./util/log.ts";

export type { App, AppOptions };

/** The features, in the order their functions and routes are listed. */
function features(context: FeatureContext, options: AppOptions): Feature[] {
  const organizations = organizationsFeature(context);
  const newsletter = newsletterFeature(context);
  const users = usersFeature(context, { memberships: organizations.memberships });
  const stripeTrial = stripeTrialFeature(context, { users });
  const clerkBilling = clerkBillingFeature(context);
  return [
    users,
    onboardingFeature(context, { recipients: users.store, trials: stripeTrial.trials }),
    deliverabilityFeature(context, {
      afterOptOut: newsletter.afterOptOut,
      maxBodyBytes: options.maxBodyBytes,
    }),
    reconcileFeature(context, {
      parts: [
        users.reconcile,
        organizations.reconcile,
        clerkBilling.reconcile,
        ...optional(newsletter.reconcile),
      ],
      ...options.reconcile,
    }),
    organizations,
    newsletter,
    stripeTrial,
    clerkBilling,
    authEmailsFeature(context),
  ];
}

/** Builds the app from `env`, e.g. `Deno.env.toObject()`. */
export function createApp(env: Env, options: AppOptions = {}): App {
  const logger = options.logger ?? createLogger();
  const settings = parseSettings(env);
  const problems = allProblems(settings);
  if (problems.length) logger.error("Invalid settings", { problems: problems.join("; ") });
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
  const services = createServices(settings, options.fetch, options.clerkBudgetClock);
  const { fetch } = options;
  const context: FeatureContext = { settings, env, services, logger, fetch, inngest };
  const composed = compose(features(context, options), settings, inngest);

  const { readiness, inngestUnreachableHint } = createAppReadiness({
    settings,
    checkDatabase: settings.database.ok ? databaseCheck(services.supabase) : undefined,
    devServeUrl: options.devServeUrl,
    fetch: options.fetch,
  });
  const core = { settings, inngest, composed, logger, readiness, inngestUnreachableHint };
  const routeOptions = { ...core, ...options };
  const { table, listed } = routeTable(coreRoutes(routeOptions), routeOptions);

  const handler = async (req: Request): Promise<Response> => {
    try {
      const name = matchRoute(pathOf(req.url));
      const route = name === undefined ? undefined : table.get(name);
      if (!route) throw new HttpError(404, "not_found", "No such route");
      return await route(req);
    } catch (error) {
      if (!(error instanceof HttpError)) logger.error("Unhandled error", errorFields(error));
      return errorResponse(error);
    }
  };
  return { handler, settings, inngest, functions: composed.functions, routes: listed, readiness };
}

/** `[part]`, or nothing while the feature that would give it is off. */
function optional<T>(part: T | undefined): T[] {
  return part ? [part] : [];
}
