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
 * developer without Docker uses as the local database (see the README).
 */
import type { Env } from "./_schema.ts";

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

const TRUE = ["1", "true", "yes", "on"];

/** The variable that says the function is deployed, or `undefined` when none does. */
export function deployedSignal(env: Env): string | undefined {
  return HOSTED_RUNTIME_VARIABLES.find((name) => (env[name] ?? "").trim() !== "");
}

/** Whether `INNGEST_DEV` asks for dev mode: a true value or the Dev Server's URL. */
export function devModeRequested(env: Env): boolean {
  const value = (env.INNGEST_DEV ?? "").trim();
  return TRUE.includes(value.toLowerCase()) || /^https?:\/\//i.test(value);
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
