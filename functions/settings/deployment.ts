/**
 * Where the function runs: on a developer's machine, or deployed. Dev mode
 * (`INNGEST_DEV`) turns off the signature checks of `/inngest`, which is
 * right on a laptop and an open door on a deployed function, so dev mode and
 * the local-only webhook secret are refused wherever the function is
 * evidently deployed.
 *
 * The signal is the variables that Supabase's hosted edge runtime injects
 * into every function and that nothing local sets: `SB_REGION`,
 * `SB_EXECUTION_ID` and `DENO_DEPLOYMENT_ID` (the last one is also set by
 * Deno Deploy). `supabase functions serve` and `deno task dev` set none of
 * them. `SUPABASE_URL` is no signal: a hosted project's URL is also what a
 * developer without Docker uses as the local database (see
 * docs/local-development.md#without-docker).
 */
import { BOOLEAN_WORDS, type Env, isUrl, optional, type SettingsGroup } from "./_schema.ts";

/** Variables the hosted runtime sets, first the most specific. */
export const HOSTED_RUNTIME_VARIABLES = ["SB_REGION", "SB_EXECUTION_ID", "DENO_DEPLOYMENT_ID"];

/**
 * The webhook signing secret that `.env.example` ships with, so that a copied
 * `.env` works at once. It is public, so it is accepted only where dev mode
 * is: with `INNGEST_DEV` on, on a machine that is not deployed.
 */
export const LOCAL_WEBHOOK_SECRET = "whsec_Local+Dev+Only+Never+Accepted+In+Production+";

/**
 * Every secret `.env.example` ships with, by variable: public, so each is
 * accepted only where dev mode is (see {@link localOnlySecretProblem}).
 */
export const LOCAL_ONLY_SECRETS = {
  CLERK_WEBHOOK_SIGNING_SECRET: LOCAL_WEBHOOK_SECRET,
  UNSUBSCRIBE_SECRET: "Local+Dev+Only+Unsubscribe+Secret+Never+Accepted+In+Production+",
  RESEND_WEBHOOK_SECRET: "whsec_Local+Dev+Only+Resend+Secret+Never+Accepted+In+Production+",
} as const;

/**
 * The problem when `secrets` include the local-only value of `name` and dev
 * mode is not allowed here, or `undefined` when there is none.
 */
export function localOnlySecretProblem(
  name: keyof typeof LOCAL_ONLY_SECRETS,
  secrets: readonly string[],
  env: Env,
): string | undefined {
  if (!secrets.includes(LOCAL_ONLY_SECRETS[name]) || devModeAllowed(env)) return undefined;
  return `${name} is the local-only secret from .env.example, accepted only with ` +
    "INNGEST_DEV=1 on a local machine: set a real one (see .env.production.example)";
}

/** The variable that says the function is deployed, or `undefined` when none does. */
export function deployedSignal(env: Env): string | undefined {
  return HOSTED_RUNTIME_VARIABLES.find((name) => optional(env[name]) !== undefined);
}

/** What `INNGEST_DEV` says; the one place that reads it. */
export interface InngestDevValue {
  readonly mode: "dev" | "cloud";
  /** The Dev Server's URL, when `INNGEST_DEV` is one. */
  readonly url?: string;
}

/**
 * Reads `INNGEST_DEV`: unset or a false value is cloud mode, a true value or
 * the Dev Server's URL is dev mode; anything else is `undefined` (invalid).
 */
export function readInngestDev(env: Env): InngestDevValue | undefined {
  const value = optional(env.INNGEST_DEV);
  if (value === undefined) return { mode: "cloud" };
  if (isUrl(value)) return { mode: "dev", url: value };
  const word = value.toLowerCase();
  if (BOOLEAN_WORDS.true.includes(word)) return { mode: "dev" };
  if (BOOLEAN_WORDS.false.includes(word)) return { mode: "cloud" };
  return undefined;
}

/** Whether `INNGEST_DEV` asks for dev mode: a true value or the Dev Server's URL. */
export function devModeRequested(env: Env): boolean {
  return readInngestDev(env)?.mode === "dev";
}

/**
 * Why dev mode is refused here, as one sentence naming the variables, or
 * `undefined` when it is not requested or the function runs locally.
 */
export function devModeRefusal(env: Env): string | undefined {
  const signal = deployedSignal(env);
  if (!signal || !devModeRequested(env)) return undefined;
  return `INNGEST_DEV is on, but the function is deployed (${signal} is set): dev mode would ` +
    "run unsigned calls to /inngest, so it is refused; unset INNGEST_DEV " +
    "(supabase secrets unset INNGEST_DEV) and set INNGEST_SIGNING_KEY and INNGEST_EVENT_KEY";
}

/** Whether dev mode is on and allowed: requested, and not deployed. */
export function devModeAllowed(env: Env): boolean {
  return devModeRequested(env) && deployedSignal(env) === undefined;
}

/** Turns a valid group invalid when it holds the local-only secret of `name` outside dev mode. */
export function refuseLocalOnly<T>(
  group: SettingsGroup<T>,
  name: keyof typeof LOCAL_ONLY_SECRETS,
  secrets: (value: T) => readonly string[],
  env: Env,
): SettingsGroup<T> {
  const problem = group.ok ? localOnlySecretProblem(name, secrets(group.value), env) : undefined;
  return problem ? { ok: false, problems: [problem] } : group;
}
