/**
 * What `createApp` (`../app.ts`) takes and gives.
 */
import type { Inngest, InngestFunction } from "inngest";
import type { BudgetClock } from "../clerk/request_budget.ts";
import type { Readiness } from "../health/readiness.ts";
import type { Settings } from "../settings.ts";
import type { Logger } from "../util/log.ts";
import type { RouteInfo } from "./compose.ts";

/** Options for `createApp`; all optional, for tests and benchmarks. */
export interface AppOptions {
  readonly logger?: Logger;
  /** Used for every outgoing request (Inngest, Supabase, the providers). */
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
  /** Every route, for the route index and the dev banner. */
  readonly routes: readonly RouteInfo[];
  /** What `/health` reports, for the dev banner; checks are cached. */
  readonly readiness: () => Promise<Readiness>;
}
