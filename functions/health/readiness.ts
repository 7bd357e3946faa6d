/**
 * Whether the function is ready, and what is missing, computed in one place
 * so that `/health` and the banner of `deno task dev` say the same thing.
 *
 * The checks that leave the process (the database and, in dev mode, the
 * Inngest Dev Server) run at most once per interval: concurrent callers share
 * one check, and later callers get the cached answer with its age. A flood of
 * health checks therefore costs the database one call per interval.
 */
import { allProblems, type Settings } from "../settings.ts";

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
  /** Only in dev mode: whether the Inngest Dev Server answered. */
  readonly inngestDevServer?: CheckState;
  /** How old the database and Dev Server answers are, in ms. */
  readonly checkedAgoMs: number;
}

/** Options for {@link createReadiness}. */
export interface ReadinessOptions {
  readonly settings: Settings;
  /** Resolves true when the database answers with the migrations applied. */
  readonly checkDatabase?: () => Promise<boolean>;
  /** Resolves true when the Inngest Dev Server answers; only in dev mode. */
  readonly checkInngestDevServer?: () => Promise<boolean>;
  /** What to do when the database does not answer, appended to the problem. */
  readonly databaseHint?: string;
  /** What to do when the Dev Server does not answer, appended to the problem. */
  readonly inngestDevServerHint?: string;
  /** How long each check may take. Default 2 s. */
  readonly timeoutMs?: number;
  /** How long an answer is reused. Default 5 s. */
  readonly cacheMs?: number;
  readonly now?: () => number;
}

/** Default time an answer of the checks is reused. */
export const DEFAULT_READINESS_CACHE_MS = 5_000;

interface Checked {
  readonly at: number;
  readonly database: CheckState;
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
    return { at: now(), database, inngestDevServer };
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
        "Database: unreachable at SUPABASE_URL, or the migrations are not applied" +
          (options.databaseHint ? `: ${options.databaseHint}` : ""),
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
      inngestDevServer: checked.inngestDevServer,
      checkedAgoMs: Math.max(0, now() - checked.at),
    };
  };
}

async function probe(
  check: (() => Promise<boolean>) | undefined,
  timeoutMs: number,
): Promise<CheckState> {
  if (!check) return "not_configured";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    const ok = await Promise.race([check().catch(() => false), timeout]);
    return ok ? "reachable" : "unreachable";
  } finally {
    clearTimeout(timer);
  }
}
