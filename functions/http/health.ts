/**
 * `GET /clerk-events/health`: readiness. The public answer is the status and
 * the HTTP code only (200 ready, 503 not). The details (problems, settings
 * present or missing, never their values, the database state, the
 * migrations it lacks, and the package versions) need
 * `Authorization: Bearer <HEALTH_TOKEN>`, or dev mode on a local machine:
 * versions and settings are an inventory for an attacker.
 */
import type { Readiness } from "../health/readiness.ts";
import type { Settings } from "../settings.ts";
import { hasBearer } from "./bearer.ts";
import { HttpError, json } from "./http_error.ts";

/** What the health route reports. */
export interface HealthOptions {
  readonly settings: Settings;
  readonly appId: string;
  readonly functionIds: readonly string[];
  /** The pinned versions of the packages that run in production. */
  readonly versions: Readonly<Record<string, string>>;
  /** Each feature's state by name: `on`, or `off: <why>` (see `../feature/feature.ts`). */
  readonly features: Readonly<Record<string, string>>;
  /** The optional features' states; off is never a problem. */
  readonly optionalFeatures: Readonly<Record<string, string>>;
  /** The shared readiness check (cached, see `../health/readiness.ts`). */
  readonly readiness: () => Promise<Readiness>;
}

/** Creates the health handler. */
export function createHealthHandler(options: HealthOptions) {
  const { settings } = options;
  const tokens = settings.health.ok ? settings.health.value.tokens : [];
  const devMode = settings.inngest.ok && settings.inngest.value.mode === "dev";
  return async (req: Request): Promise<Response> => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      throw new HttpError(405, "method_not_allowed", "Use GET", { headers: { allow: "GET" } });
    }
    const readiness = await options.readiness();
    const status = readiness.ready ? 200 : 503;
    const state = readiness.ready ? "ok" : "unavailable";
    const authorized = await hasBearer(req, tokens);
    if (!authorized && !devMode) {
      const headers: Record<string, string> = req.headers.has("authorization")
        ? { "www-authenticate": 'Bearer error="invalid_token"' }
        : {};
      return json(status, { status: state }, headers);
    }
    return json(status, {
      status: state,
      details: authorized ? "HEALTH_TOKEN" : "dev mode",
      app: options.appId,
      functions: options.functionIds,
      mode: settings.inngest.ok ? settings.inngest.value.mode : "unknown",
      database: readiness.database,
      ...(readiness.missingMigrations ? { missing_migrations: readiness.missingMigrations } : {}),
      ...(readiness.inngestDevServer ? { inngest_dev_server: readiness.inngestDevServer } : {}),
      checked_ago_ms: readiness.checkedAgoMs,
      versions: options.versions,
      settings: settings.presence,
      problems: readiness.problems,
      optional_unset: readiness.optionalUnset,
      features: options.features,
      optional_features: options.optionalFeatures,
    });
  };
}
