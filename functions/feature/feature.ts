/**
 * The one shape every feature has. A feature is a folder of `functions/`
 * whose `feature.ts` exports one factory, `(context, ports?) => Feature`;
 * `functions/app.ts` calls each factory once and composes the list (see
 * `../app/compose.ts`). From the list alone the app knows:
 *
 * - which Inngest functions to serve on `/inngest`;
 * - which routes exist, and which settings each needs: while one of those
 *   groups is invalid the route answers 503 naming the problems, declared
 *   here once;
 * - which Clerk events the webhook validates, and which run a stage inside
 *   the webhook request itself (Clerk's own emails);
 * - what `/health` says of the feature: on, or off and why.
 *
 * Features depend on the shared rooms (`clerk/`, `database/`, `email/`,
 * `http/`, `inngest/`, `settings/`, `util/`, …), never on `app/`, and on one
 * another only through an interface that one side declares (its `ports`),
 * which `app.ts` connects.
 */
import type { Inngest, InngestFunction } from "inngest";
import type { z } from "zod";
import type { Env, Settings } from "../settings.ts";
import type { Logger } from "../util/log.ts";
import type { Services } from "./services.ts";

/** A route handler, on the platform's own Request and Response. */
export type Handler = (req: Request) => Promise<Response>;

/** The name of a settings group, e.g. `database`. */
export type SettingsName = Exclude<keyof Settings, "presence">;

/** What every feature factory is given. */
export interface FeatureContext {
  /** Every settings group, parsed once at start-up. */
  readonly settings: Settings;
  /**
   * The environment the settings were parsed from, for a feature that
   * parses a group of its own (see docs/extending.md); never read it raw.
   */
  readonly env: Env;
  /** The clients and stores several features share, each built on first use. */
  readonly services: Services;
  readonly logger: Logger;
  /** Used for every outgoing request (tests and benchmarks pass their own). */
  readonly fetch?: typeof fetch;
  /** Absent while the Inngest settings are invalid: nothing is served or sent. */
  readonly inngest?: Inngest;
}

/**
 * A Clerk event a feature consumes, as `eventType(name, { schema })`
 * declares it (`../inngest/events.ts`): the webhook validates its data.
 */
export interface ConsumedEvent {
  /** `clerk/<type>`. */
  readonly name: string;
  readonly schema: z.ZodType;
}

/** A route a feature serves, below `/clerk-events/`. */
export interface FeatureRoute {
  /** The path after the function's name, e.g. `users/me/sync`. */
  readonly path: string;
  /** The methods it answers, for the route index (the handler checks them). */
  readonly methods: readonly string[];
  /** One line on what it is for, for the route index and the dev banner. */
  readonly summary: string;
  /** Groups it needs: while one is invalid it answers 503 naming the problems. */
  readonly needs: readonly SettingsName[];
  /** Why the route is off although its settings are valid: it answers 404 saying so. */
  readonly off?: string;
  /** Builds the handler on the first request, so that its modules load only then. */
  readonly load: () => Promise<Handler>;
}

/** A Clerk event as the webhook forwards it to Inngest. */
export interface ForwardedEvent {
  /** The `svix-id`, so that a retried delivery is the same event. */
  readonly id: string;
  /** `clerk/<type>`. */
  readonly name: string;
  /** Clerk's `data` object. */
  readonly data: Record<string, unknown>;
  /** The envelope's `timestamp`, epoch ms. */
  readonly ts: number;
}

/**
 * Work one event type needs done inside the webhook request, after the
 * signature and the data were checked and before the event goes to
 * Inngest: Clerk's own emails, say, which cannot wait for a queue.
 */
export interface WebhookStage {
  /** Clerk's event type, e.g. `email.created`. */
  readonly type: string;
  /**
   * Does the work and returns the data to forward (the same object, or a
   * redacted copy). Throws `HttpError` to answer without forwarding: a 5xx
   * makes Svix retry the delivery.
   */
  readonly run: (event: ForwardedEvent) => Promise<Record<string, unknown>>;
}

/** A feature, as `app.ts` composes it. */
export interface Feature {
  /** snake_case, as `/health` names it: `users`, `newsletter`, `stripe_trial`. */
  readonly name: string;
  /**
   * `on`, or `off: <why>`. Optional features are listed under
   * `optional_features` in `/health` and are off, never a problem, while
   * their settings are absent.
   */
  readonly state: string;
  readonly optional?: boolean;
  /** The Clerk events it consumes: the webhook validates their data. */
  readonly events?: readonly ConsumedEvent[];
  /** Its Inngest functions, created on the app's client. */
  readonly functions?: (client: Inngest) => readonly InngestFunction.Any[];
  readonly routes?: readonly FeatureRoute[];
  readonly webhook?: readonly WebhookStage[];
}

/**
 * The state of a feature that is on while every one of `groups` is valid,
 * and otherwise off, naming their problems.
 */
export function stateOf(settings: Settings, groups: readonly SettingsName[]): string {
  const problems = groups.flatMap((name) => {
    const group = settings[name];
    return group.ok ? [] : group.problems;
  });
  return problems.length ? `off: ${[...new Set(problems)].join("; ")}` : "on";
}
