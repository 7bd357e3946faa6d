/**
 * The app's readiness check (see `../health/readiness.ts`), with the dev-mode hints
 * that tell a developer what to start: the Inngest Dev Server's exact
 * command, and the local stack or a hosted project for the database; and
 * the database check itself: it answers, and has every migration this code
 * needs.
 */
import type { SupabaseClient } from "@supabase/supabase-js";
import { inngestDevCommand, supabaseCommand } from "../health/local_tools.ts";
import { eventApiUrl } from "../inngest/client.ts";
import { createReadiness, type DatabaseAnswer, type Readiness } from "../health/readiness.ts";
import type { Settings } from "../settings.ts";

/** Options for {@link createAppReadiness}. */
export interface AppReadinessOptions {
  readonly settings: Settings;
  /** See {@link databaseCheck}; absent while the database settings are invalid. */
  readonly checkDatabase?: () => Promise<boolean | DatabaseAnswer>;
  /** This function's /inngest URL, for the Dev Server's command. */
  readonly devServeUrl?: string;
  readonly fetch?: typeof fetch;
}

/** The readiness check, and what to do when Inngest cannot be reached (dev mode only). */
export function createAppReadiness(options: AppReadinessOptions): {
  readiness: () => Promise<Readiness>;
  inngestUnreachableHint?: string;
} {
  const { settings } = options;
  const inngest = settings.inngest.ok && settings.inngest.value.mode === "dev"
    ? settings.inngest.value
    : undefined;
  const inngestUnreachableHint = inngest
    ? `start it: ${inngestDevCommand(options.devServeUrl ?? "<this function's /inngest URL>")}`
    : undefined;
  const readiness = createReadiness({
    settings,
    checkDatabase: options.checkDatabase,
    databaseHint: inngest
      ? `start the local stack (${supabaseCommand("start")}), or set SUPABASE_URL and ` +
        "SUPABASE_SECRET_KEYS to a hosted project's (docs/local-development.md#without-docker)"
      : undefined,
    migrationsHint: inngest
      ? `run ${supabaseCommand("migration up --local")} for the local stack, or ` +
        `${supabaseCommand("db push")} for a hosted project`
      : `run ${supabaseCommand("db push")} against this project`,
    checkInngestDevServer: inngest ? () => answers(eventApiUrl(inngest), options.fetch) : undefined,
    inngestDevServerHint: inngestUnreachableHint,
  });
  return { readiness, inngestUnreachableHint };
}

/**
 * The database check: which migrations of `../database/migrations.ts` the database behind
 * `supabase` lacks. It throws (unreachable) when the database does not
 * answer. The check's module loads on first use, as supabase-js does.
 */
export function databaseCheck(
  supabase: () => Promise<SupabaseClient>,
): () => Promise<DatabaseAnswer> {
  return async () => {
    const [{ missingMigrations }, { MIGRATIONS }] = await Promise.all([
      import("../database/schema_check.ts"),
      import("../database/migrations.ts"),
    ]);
    return { missingMigrations: await missingMigrations(await supabase(), MIGRATIONS) };
  };
}

/** Whether anything answers HTTP at `url` (any status counts). */
async function answers(url: string, fetcher: typeof fetch = fetch): Promise<boolean> {
  try {
    const res = await fetcher(url, { signal: AbortSignal.timeout(1_000) });
    await res.body?.cancel();
    return true;
  } catch {
    return false;
  }
}
