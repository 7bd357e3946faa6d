/**
 * Whether the function is ready, and what is missing, computed in one place
 * so that `/health` and the banner of `deno task dev` say the same thing.
 *
 * The checks that leave the process (the database and, in dev mode, the
 * Inngest Dev Server) run at most once per interval: concurrent callers share
 * one check, and later callers get the cached answer with its age. A flood of
 * health checks therefore costs the database one call per interval.
 *
 * A database that answers but lacks a migration this code needs is not
 * ready either: the problem names each missing migration.
 */
import { allProblems, type Settings } from "../settings.ts";
import { withDeadline } from "../util/deadline.ts";

/** Whether a dependency answered. */
export type CheckState = "reachable" | "unreachable" | "not_configured";

/** The readiness of the function at one moment. */
export interface Readiness {
  readonly ready: boolean;
  /** What is required now and missing or wrong; empty when ready. */
  readonly problems: readonly string[];
  /** Settings that are not set and not needed in the current mode. */
  readonly optionalUnset: readonly string[];
  readonly database: CheckState;
  /**
   * The migrations this code needs that the database has not applied,
   * oldest first; present when the database answered.
   */
  readonly missingMigrations?: readonly string[];
  /** Only in dev mode: whether the Inngest Dev Server answered. */
  readonly inngestDevServer?: CheckState;
  /** How old the database and Dev Server answers are, in ms. */
  readonly checkedAgoMs: number;
}

/** Options for {@link createReadiness}. */
export interface ReadinessOptions {
  readonly settings: Settings;
  /**
   * Resolves with the migrations the database lacks when it answers (true:
   * it answers and lacks none), or false when it does not.
   */
  readonly checkDatabase?: () => Promise<boolean | DatabaseAnswer>;
  /** Resolves true when the Inngest Dev Server answers; only in dev mode. */
  readonly checkInngestDevServer?: () => Promise<boolean>;
  /** What to do when the database does not answer, appended to the problem. */
  readonly databaseHint?: string;
  /** What to do when migrations are missing, appended to the problem. */
  readonly migrationsHint?: string;
  /** What to do when the Dev Server does not answer, appended to the problem. */
  readonly inngestDevServerHint?: string;
  /** How long each check may take. Default 2 s. */
  readonly timeoutMs?: number;
  /** How long an answer is reused. Default 5 s. */
  readonly cacheMs?: number;
  readonly now?: () => number;
}

/** What the database check found when the database answered. */
export interface DatabaseAnswer {
  /** The migrations this code needs that the database has not applied, oldest first. */
  readonly missingMigrations: readonly string[];
}

/** Default time an answer of the checks is reused. */
export const DEFAULT_READINESS_CACHE_MS = 5_000;

interface Checked {
  readonly at: number;
  readonly database: CheckState;
  readonly missingMigrations?: readonly string[];
  readonly inngestDevServer?: CheckState;
}

/** Creates the readiness check. */
export function createReadiness(options: ReadinessOptions): () => Promise<Readiness> {
  const now = options.now ?? Date.now;
  const cacheMs = options.cacheMs ?? DEFAULT_READINESS_CACHE_MS;
  const timeoutMs = options.timeoutMs ?? 2_000;
  const { settings } = options;
  let last: Checked | undefined;
  let running: Promise<Checked> | undefined;

  const check = async (): Promise<Checked> => {
    const [database, inngestDevServer] = await Promise.all([
      probe(options.checkDatabase, timeoutMs),
      options.checkInngestDevServer
        ? probe(options.checkInngestDevServer, timeoutMs)
        : Promise.resolve(undefined),
    ]);
    const answer = database.answer;
    return {
      at: now(),
      database: database.state,
      missingMigrations: database.state === "reachable"
        ? (typeof answer === "object" ? answer.missingMigrations : [])
        : undefined,
      inngestDevServer: inngestDevServer?.state,
    };
  };
  const fresh = (): Promise<Checked> => {
    if (last && now() - last.at < cacheMs) return Promise.resolve(last);
    running ??= check().then((checked) => {
      last = checked;
      return checked;
    }).finally(() => {
      running = undefined;
    });
    return running;
  };

  return async () => {
    const checked = await fresh();
    const problems = allProblems(settings);
    if (checked.database === "unreachable") {
      problems.push(
        "Database: unreachable at SUPABASE_URL" +
          (options.databaseHint ? `: ${options.databaseHint}` : ""),
      );
    }
    const missing = checked.missingMigrations ?? [];
    if (missing.length) {
      problems.push(
        `Database: ${
          missing.length === 1
            ? `migration ${missing[0]} is not applied`
            : `migrations ${missing.join(", ")} are not applied`
        }` + (options.migrationsHint ? `: ${options.migrationsHint}` : ""),
      );
    }
    if (checked.inngestDevServer === "unreachable") {
      problems.push(
        "Inngest Dev Server: no answer" +
          (options.inngestDevServerHint ? `: ${options.inngestDevServerHint}` : ""),
      );
    }
    const named = problems.join("\n");
    const optionalUnset = Object.entries(settings.presence)
      .filter(([name, state]) => state === "missing" && !new RegExp(`\\b${name}\\b`).test(named))
      .map(([name]) => name);
    return {
      ready: problems.length === 0,
      problems,
      optionalUnset,
      database: checked.database,
      missingMigrations: checked.missingMigrations,
      inngestDevServer: checked.inngestDevServer,
      checkedAgoMs: Math.max(0, now() - checked.at),
    };
  };
}

/** Runs `check` within `timeoutMs`: false, a failure or no answer is unreachable. */
async function probe<T>(
  check: (() => Promise<T | boolean>) | undefined,
  timeoutMs: number,
): Promise<{ state: CheckState; answer?: T | true }> {
  if (!check) return { state: "not_configured" };
  const answer = await withDeadline(check(), timeoutMs, "No answer in time")
    .catch(() => false as const);
  return answer === false ? { state: "unreachable" } : { state: "reachable", answer };
}
