/**
 * Reads the functions' flow control from the registration the serve route
 * returns, the way Inngest Cloud learns it: a signed in-band sync (`PUT` with
 * `x-inngest-sync-kind: in_band`), answered with the app's function configs.
 * The engine in `inngest_engine.ts` plays by these, not by test constants.
 */
import { APP_ID } from "../../functions/inngest/client.ts";
import { canonicalJson, inngestSignature } from "./inngest_cloud.ts";
import { durationMs } from "../../functions/util/duration.ts";

/** Inngest's retry count when a function declares none. */
export const DEFAULT_RETRIES = 3;

/**
 * A concurrency limit, per key when `key` is set. With `scope` `env` or
 * `account`, the limit is shared by every function that declares the same
 * key value; with `fn` (the default) it is the function's own.
 */
export interface ConcurrencyLimit {
  readonly limit: number;
  readonly key?: string;
  readonly scope?: "fn" | "env" | "account";
}

/** A throttle: at most `limit` run starts per `periodMs`, per key when set. */
export interface Throttle {
  readonly limit: number;
  readonly periodMs: number;
  readonly key?: string;
}

/** A singleton: one active run of the function at a time, per key when set. */
export interface Singleton {
  readonly mode: "skip" | "cancel";
  readonly key?: string;
}

/** A cancellation: an event whose `if` expression matches cancels the run. */
export interface Cancellation {
  readonly event: string;
  readonly if?: string;
}

/** One function's registered configuration. */
export interface FunctionConfig {
  /** The id without the app prefix, e.g. `onboarding-emails`. */
  readonly id: string;
  /** Event names that start a run. */
  readonly events: readonly string[];
  /** Retries after the first attempt of a step. */
  readonly retries: number;
  readonly cancel: readonly Cancellation[];
  /** Expression whose value, per function, starts at most one run per 24 h. */
  readonly idempotency?: string;
  readonly concurrency: readonly ConcurrencyLimit[];
  readonly throttle?: Throttle;
  /** At most one active run (per key when set); `skip` drops the events that would start another. */
  readonly singleton?: Singleton;
  /** The raw config, for anything else a test wants to read. */
  readonly raw: Record<string, unknown>;
}

/** Options for {@link readRegistration}. */
export interface RegistrationOptions {
  readonly handler: (req: Request) => Promise<Response>;
  readonly signingKey: string;
  readonly url?: string;
}

/** Syncs in band with the serve route and returns its functions by id. */
export async function readRegistration(
  options: RegistrationOptions,
): Promise<Map<string, FunctionConfig>> {
  const url = options.url ?? "http://localhost/clerk-events/inngest";
  const body = canonicalJson({ url });
  const res = await options.handler(
    new Request(url, {
      method: "PUT",
      headers: {
        host: new URL(url).host,
        "content-type": "application/json",
        "x-inngest-server-kind": "cloud",
        "x-inngest-sync-kind": "in_band",
        "x-inngest-signature": await inngestSignature(body, options.signingKey),
      },
      body,
    }),
  );
  const text = await res.text();
  if (res.status !== 200 || res.headers.get("x-inngest-sync-kind") !== "in_band") {
    throw new Error(`Cannot read the registration: in-band sync answered ${res.status}: ${text}`);
  }
  const { functions } = JSON.parse(text) as { functions: Record<string, unknown>[] };
  return new Map(functions.map((raw) => {
    const config = toConfig(raw);
    return [config.id, config];
  }));
}

function toConfig(raw: Record<string, unknown>): FunctionConfig {
  const id = String(raw.id).replace(`${APP_ID}-`, "");
  const triggers = (raw.triggers ?? []) as { event?: string }[];
  const steps = (raw.steps ?? {}) as Record<string, { retries?: { attempts?: number } }>;
  const attempts = Object.values(steps)[0]?.retries?.attempts;
  const concurrency = raw.concurrency === undefined
    ? []
    : [raw.concurrency].flat().map((c) =>
      typeof c === "number" ? { limit: c } : c as ConcurrencyLimit
    );
  const throttle = raw.throttle as { limit: number; period: string; key?: string } | undefined;
  return {
    id,
    events: triggers.flatMap((t) => t.event ? [t.event] : []),
    retries: attempts ?? DEFAULT_RETRIES,
    cancel: (raw.cancel ?? []) as Cancellation[],
    idempotency: raw.idempotency as string | undefined,
    concurrency,
    singleton: raw.singleton as Singleton | undefined,
    throttle: throttle && {
      limit: throttle.limit,
      periodMs: durationMs(throttle.period),
      key: throttle.key,
    },
    raw,
  };
}

/**
 * Evaluates the small subset of Inngest's expressions that registrations
 * use: paths such as `event.data.id`, string and number literals, `==`,
 * `!=`, `&&` and `+` (string concatenation). Anything else throws, so that a
 * new kind of expression fails loudly here instead of matching by accident.
 */
export function evaluate(expression: string, scope: Record<string, unknown>): unknown {
  const clauses = expression.split("&&").map((c) => c.trim());
  if (clauses.length > 1) return clauses.every((c) => evaluate(c, scope) === true);
  const comparison = /^(.+?)\s*(==|!=)\s*(.+)$/.exec(expression);
  if (comparison) {
    const [, left, op, right] = comparison;
    const equal = operand(left, scope) === operand(right, scope);
    return op === "==" ? equal : !equal;
  }
  const terms = expression.split("+").map((t) => t.trim());
  if (terms.length > 1) return terms.map((t) => String(operand(t, scope))).join("");
  return operand(expression, scope);
}

function operand(text: string, scope: Record<string, unknown>): unknown {
  const token = text.trim();
  if (/^(['"]).*\1$/.test(token)) return token.slice(1, -1);
  if (/^-?\d+(\.\d+)?$/.test(token)) return Number(token);
  if (!/^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$/.test(token)) {
    throw new Error(`Cannot evaluate "${token}": not a path or a literal`);
  }
  let value: unknown = scope;
  for (const part of token.split(".")) {
    value = value && typeof value === "object"
      ? (value as Record<string, unknown>)[part]
      : undefined;
  }
  return value;
}
