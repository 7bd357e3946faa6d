/**
 * The app as the database suites build it.
 */
import { type App, type AppOptions, createApp } from "../../functions/app.ts";
import type { Env } from "../../functions/settings.ts";
import { captureLogs, testEnv } from "./env.ts";
import type { Postgrest } from "./postgrest.ts";

/**
 * The app with the test settings, its database behind `postgrest`, and `env`
 * on top; `options` default to a logger whose lines are scanned.
 */
export function appAt(
  postgrest: Pick<Postgrest, "url" | "serviceKey">,
  env: Env = {},
  options: AppOptions = {},
): App {
  return createApp(
    testEnv({
      SUPABASE_URL: postgrest.url,
      SUPABASE_SERVICE_ROLE_KEY: postgrest.serviceKey,
      ...env,
    }),
    { logger: captureLogs().logger, ...options },
  );
}
