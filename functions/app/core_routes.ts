/**
 * The routes every app has, whatever its features: the Clerk webhook (the
 * ingress), Inngest's serve handler, `/health`, and, in dev mode, an index
 * of every route at the function's own root.
 */
import type { Inngest, InngestFunction } from "inngest";
import type { FeatureRoute, Handler } from "../feature/feature.ts";
import type { Readiness } from "../health/readiness.ts";
import { PACKAGE_VERSIONS } from "../health/versions.ts";
import { createHealthHandler } from "../http/health.ts";
import { HttpError, json } from "../http/http_error.ts";
import { createWebhookHandler } from "../http/webhook.ts";
import { APP_ID } from "../inngest/client.ts";
import { createSendBatcher } from "../inngest/send_batcher.ts";
import type { InngestSettings, Settings } from "../settings.ts";
import { createVerifier } from "../svix/verify.ts";
import type { Logger } from "../util/log.ts";
import { type Composed, gated, type RouteInfo } from "./compose.ts";

/** What the core routes are built from. */
export interface CoreRouteOptions {
  readonly settings: Settings;
  readonly inngest?: Inngest;
  readonly composed: Composed;
  readonly logger: Logger;
  readonly readiness: () => Promise<Readiness>;
  readonly inngestUnreachableHint?: string;
  readonly maxBodyBytes?: number;
  readonly sendDeadlineMs?: number;
  readonly waitUntil?: (promise: Promise<unknown>) => void;
}

/** The core routes, as features declare theirs. */
export function coreRoutes(options: CoreRouteOptions): FeatureRoute[] {
  const { settings, inngest, composed } = options;
  return [{
    path: "webhook",
    methods: ["POST"],
    summary: "the Svix endpoint that Clerk calls",
    needs: ["webhook", "inngest"],
    load: () =>
      Promise.resolve(createWebhookHandler({
        verify: createVerifier(settings.webhook.ok ? settings.webhook.value.signingSecrets : []),
        events: composed.events,
        stages: composed.stages,
        send: createSendBatcher((events) => inngest!.send(events)),
        logger: options.logger,
        maxBodyBytes: options.maxBodyBytes,
        sendDeadlineMs: options.sendDeadlineMs,
        waitUntil: options.waitUntil,
        unreachableHint: options.inngestUnreachableHint,
      })),
  }, {
    path: "inngest",
    methods: ["GET", "POST", "PUT"],
    summary: "the Inngest serve handler, for signed calls from Inngest",
    needs: ["inngest"],
    load: () => inngestHandler(inngest!, composed.functions, settings.inngest),
  }, {
    path: "health",
    methods: ["GET", "HEAD"],
    summary: 'readiness: {"status":"ok"} 200 or {"status":"unavailable"} 503',
    needs: [],
    load: () =>
      Promise.resolve(createHealthHandler({
        settings,
        appId: APP_ID,
        functionIds: composed.functions.map((fn) => fn.id()),
        versions: PACKAGE_VERSIONS,
        features: composed.states,
        optionalFeatures: composed.optionalStates,
        readiness: options.readiness,
      })),
  }];
}

/** Every route of the app, by path: the core's, then the features'. */
export function routeTable(core: readonly FeatureRoute[], options: CoreRouteOptions) {
  const { settings, composed } = options;
  const table = new Map<string, Handler>(core.map((route) => [route.path, gated(route, settings)]));
  for (const [path, handler] of composed.routes) {
    if (table.has(path)) throw new TypeError(`Cannot compose the app: /${path} is a core route`);
    table.set(path, handler);
  }
  const listed: RouteInfo[] = [...core, ...composed.routeInfo]
    .map(({ path, methods, summary }) => ({ path, methods, summary }));
  const devMode = settings.inngest.ok && settings.inngest.value.mode === "dev";
  // The function's own root lists the routes, in dev mode only: a deployed
  // function says nothing about itself to anyone who asks.
  table.set("", (req) => {
    if (!devMode) throw new HttpError(404, "not_found", "No such route");
    if (req.method !== "GET" && req.method !== "HEAD") {
      throw new HttpError(405, "method_not_allowed", "Use GET", { headers: { allow: "GET" } });
    }
    return Promise.resolve(json(200, { app: APP_ID, mode: "dev", routes: listed }));
  });
  return { table, listed };
}

/** `/clerk-events/inngest`: Inngest's serve handler for `functions`, loaded on first use. */
async function inngestHandler(
  client: Inngest,
  functions: readonly InngestFunction.Any[],
  settings: Settings["inngest"],
): Promise<Handler> {
  const { servePath, serveOrigin } = settings.ok ? settings.value : ({} as InngestSettings);
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
}
