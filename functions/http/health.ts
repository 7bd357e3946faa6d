/**
 * `GET /clerk-events/health`: readiness. Lists each setting as present or
 * missing, never its value, and answers 503 with the reasons until every
 * group of settings is valid.
 */
import { allProblems, type Settings } from "../settings.ts";
import { HttpError, json } from "./http_error.ts";

/** What the health route reports besides the settings. */
export interface HealthOptions {
  readonly settings: Settings;
  readonly appId: string;
  readonly functionIds: readonly string[];
  readonly versions: Readonly<Record<string, string>>;
}

/** Creates the health handler. */
export function createHealthHandler(options: HealthOptions) {
  const { settings } = options;
  return (req: Request): Promise<Response> => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      throw new HttpError(405, "method_not_allowed", "Use GET", { headers: { allow: "GET" } });
    }
    const problems = allProblems(settings);
    const ready = problems.length === 0;
    return Promise.resolve(json(ready ? 200 : 503, {
      status: ready ? "ok" : "unavailable",
      app: options.appId,
      functions: options.functionIds,
      mode: settings.inngest.ok ? settings.inngest.value.mode : "unknown",
      versions: options.versions,
      settings: settings.presence,
      problems,
    }));
  };
}
