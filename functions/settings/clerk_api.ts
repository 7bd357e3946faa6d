/**
 * Settings of Clerk's Backend API: the reconcile workflow and anything else
 * that calls `api.clerk.com` with the instance's secret key.
 *
 * The webhook path never needs them. While `CLERK_SECRET_KEY` is missing the
 * group is invalid: reconciliation is disabled (no cron schedule) and a
 * manual run fails at once, naming the variable.
 */
import { DURATION, durationMs } from "../util/duration.ts";
import { z } from "zod";
import { type Env, isUrl, parseGroup, required, type SettingsGroup } from "./_schema.ts";

/** How many Backend API requests may start within a period. */
export interface RequestBudget {
  readonly limit: number;
  readonly periodMs: number;
}

/** Settings of Clerk's Backend API. */
export interface ClerkApiSettings {
  /** The instance's secret key, `sk_test_…` or `sk_live_…`. */
  readonly secretKey: string;
  /** Base URL of the Backend API, without the `/v1`. */
  readonly apiUrl: string;
  /** The reconcile schedule (Inngest cron syntax), or `undefined` when `off`. */
  readonly reconcileCron: string | undefined;
  /** The request budget the reconcile stays under. */
  readonly requestBudget: RequestBudget;
}

/** The variables of the group. */
export const CLERK_API_SETTING_NAMES = [
  "CLERK_SECRET_KEY",
  "CLERK_API_URL",
  "CLERK_RECONCILE_CRON",
  "CLERK_API_REQUEST_BUDGET",
] as const;

/** Clerk's Backend API. */
export const DEFAULT_CLERK_API_URL = "https://api.clerk.com";
/** Every night at 03:00 UTC. */
export const DEFAULT_RECONCILE_CRON = "TZ=UTC 0 3 * * *";
/**
 * Half of a development instance's limit (100 requests per 10 s), leaving
 * room for the app's other Backend API calls. Production instances allow
 * 1,000 per 10 s.
 */
export const DEFAULT_REQUEST_BUDGET = "50/10s";

/** Five cron fields, optionally after a `TZ=<zone>` prefix. */
const CRON = /^(TZ=[A-Za-z0-9_+\-/]+\s+)?[\d*,/\-A-Za-z?LW#]+(\s+[\d*,/\-A-Za-z?LW#]+){4}$/;
/** `<requests>/<duration>`, e.g. `50/10s`, `500/10s`, `5/1s` (an Inngest duration). */
const BUDGET = /^(\d+)\s*\/\s*(\S+)$/;

const schema = z.object({
  CLERK_SECRET_KEY: required(
    "CLERK_SECRET_KEY is missing: reconciliation with Clerk is disabled until it is set " +
      "(Clerk dashboard > API keys > Secret key)",
  ).regex(/^sk_(test|live)_\S+$/, {
    error: "CLERK_SECRET_KEY must be a Clerk secret key, sk_test_... or sk_live_...",
  }),
  CLERK_API_URL: z.string()
    .refine(isUrl, { error: "CLERK_API_URL must be an http(s) URL" })
    .default(DEFAULT_CLERK_API_URL)
    .transform((url) => url.replace(/\/+$/, "")),
  CLERK_RECONCILE_CRON: z.string()
    .refine((cron) => cron.toLowerCase() === "off" || CRON.test(cron), {
      error: 'CLERK_RECONCILE_CRON must be a cron schedule such as "TZ=UTC 0 3 * * *", or off',
    })
    .default(DEFAULT_RECONCILE_CRON)
    .transform((cron) => cron.toLowerCase() === "off" ? undefined : cron),
  CLERK_API_REQUEST_BUDGET: z.string()
    .default(DEFAULT_REQUEST_BUDGET)
    .transform((raw, ctx) => {
      const budget = parseBudget(raw);
      if (!budget) {
        ctx.addIssue({
          code: "custom",
          message: "CLERK_API_REQUEST_BUDGET must be <requests>/<period> such as 50/10s, " +
            "with 1 to 10000 requests in 1 ms to 60 m",
        });
      }
      return budget!;
    }),
});

/** Parses the Clerk Backend API group from `env`. Never throws. */
export function parseClerkApi(env: Env): SettingsGroup<ClerkApiSettings> {
  return parseGroup(schema, env, (value) => ({
    secretKey: value.CLERK_SECRET_KEY,
    apiUrl: value.CLERK_API_URL,
    reconcileCron: value.CLERK_RECONCILE_CRON,
    requestBudget: value.CLERK_API_REQUEST_BUDGET,
  }));
}

function parseBudget(raw: string): RequestBudget | undefined {
  const match = BUDGET.exec(raw);
  if (!match) return undefined;
  const limit = Number(match[1]);
  if (!DURATION.test(match[2])) return undefined;
  const periodMs = durationMs(match[2]);
  if (limit < 1 || limit > 10_000 || periodMs < 1 || periodMs > 3_600_000) return undefined;
  return { limit, periodMs };
}
