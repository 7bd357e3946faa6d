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
  /**
   * Resolves true when the database answers with the migrations applied.
   * Absent while the database settings are invalid.
   */
  readonly checkDatabase?: () => Promise<boolean>;
  /** How long the database check may take. Default 2 s. */
  readonly databaseTimeoutMs?: number;
}

/** Whether the database answered the health check. */
export type DatabaseState = "reachable" | "unreachable" | "not_configured";

/** Creates the health handler. */
export function createHealthHandler(options: HealthOptions) {
  const { settings } = options;
  return async (req: Request): Promise<Response> => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      throw new HttpError(405, "method_not_allowed", "Use GET", { headers: { allow: "GET" } });
    }
    const problems = allProblems(settings);
    const database = await databaseState(options);
    if (database === "unreachable") {
      problems.push("Database: unreachable, or the migrations are not applied");
    }
    const ready = problems.length === 0;
    return json(ready ? 200 : 503, {
      status: ready ? "ok" : "unavailable",
      app: options.appId,
      functions: options.functionIds,
      mode: settings.inngest.ok ? settings.inngest.value.mode : "unknown",
      database,
      versions: options.versions,
      settings: settings.presence,
      problems,
    });
  };
}

async function databaseState(options: HealthOptions): Promise<DatabaseState> {
  if (!options.checkDatabase) return "not_configured";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), options.databaseTimeoutMs ?? 2_000);
  });
  try {
    const ok = await Promise.race([options.checkDatabase().catch(() => false), timeout]);
    return ok ? "reachable" : "unreachable";
  } finally {
    clearTimeout(timer);
  }
}
