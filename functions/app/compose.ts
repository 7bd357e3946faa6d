/**
 * Turns the list of features into what the app serves: the Inngest
 * functions, the routes (each gated by the settings it needs), the events
 * the webhook validates and the stages it runs, and each feature's line in
 * `/health`. Nothing here knows a feature by name.
 */
import type { Inngest, InngestFunction } from "inngest";
import type {
  ConsumedEvent,
  Feature,
  FeatureRoute,
  Handler,
  SettingsName,
  WebhookStage,
} from "../feature/feature.ts";
import { HttpError } from "../http/http_error.ts";
import type { Settings } from "../settings.ts";
import { lazy } from "../util/lazy.ts";

/** A route as the index and the dev banner list it. */
export type RouteInfo = Pick<FeatureRoute, "path" | "methods" | "summary">;

/** What the features add up to. */
export interface Composed {
  /** Every feature's functions; empty without an Inngest client. */
  readonly functions: readonly InngestFunction.Any[];
  /** Every feature's routes, by path. */
  readonly routes: ReadonlyMap<string, Handler>;
  readonly routeInfo: readonly RouteInfo[];
  /** The Clerk events whose data the webhook validates, each once. */
  readonly events: readonly ConsumedEvent[];
  readonly stages: readonly WebhookStage[];
  /** Each feature's state, by name. */
  readonly states: Readonly<Record<string, string>>;
  /** The optional features' states, by name. */
  readonly optionalStates: Readonly<Record<string, string>>;
}

/** Composes `features`; throws a TypeError when two declare the same route or stage. */
export function compose(
  features: readonly Feature[],
  settings: Settings,
  inngest: Inngest | undefined,
): Composed {
  const routes = new Map<string, Handler>();
  const routeInfo: RouteInfo[] = [];
  const events = new Map<string, ConsumedEvent>();
  const stages = new Map<string, WebhookStage>();
  for (const feature of features) {
    for (const route of feature.routes ?? []) {
      if (routes.has(route.path)) {
        throw new TypeError(`Cannot compose the app: two features serve /${route.path}`);
      }
      routes.set(route.path, gated(route, settings));
      routeInfo.push({ path: route.path, methods: route.methods, summary: route.summary });
    }
    for (const event of feature.events ?? []) events.set(event.name, event);
    for (const stage of feature.webhook ?? []) {
      if (stages.has(stage.type)) {
        throw new TypeError(`Cannot compose the app: two features stage ${stage.type}`);
      }
      stages.set(stage.type, stage);
    }
  }
  const stateOf = (optional: boolean) =>
    Object.fromEntries(
      features.filter((f) => Boolean(f.optional) === optional).map((f) => [f.name, f.state]),
    );
  return {
    functions: inngest ? features.flatMap((feature) => feature.functions?.(inngest) ?? []) : [],
    routes,
    routeInfo,
    events: [...events.values()],
    stages: [...stages.values()],
    states: stateOf(false),
    optionalStates: stateOf(true),
  };
}

/**
 * The route's handler: 503 naming the problems while a group it needs is
 * invalid, 404 while it is off, else built by `load` on the first request
 * and reused.
 */
export function gated(route: FeatureRoute, settings: Settings): Handler {
  const problems = unavailable(settings, route.needs);
  if (problems) {
    return () => {
      throw new HttpError(503, "not_configured", `Not configured: ${problems}`);
    };
  }
  if (route.off) {
    const off = route.off;
    return () => {
      throw new HttpError(404, "not_found", off);
    };
  }
  const handler = lazy(route.load);
  return async (req) => (await handler())(req);
}

/** The problems of the invalid groups among `needs`, joined; undefined when all are valid. */
export function unavailable(settings: Settings, needs: readonly SettingsName[]) {
  const problems = needs.flatMap((name) => {
    const group = settings[name];
    return group.ok ? [] : group.problems;
  });
  return problems.length ? [...new Set(problems)].join("; ") : undefined;
}
