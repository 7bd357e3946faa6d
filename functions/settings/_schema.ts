/**
 * The building blocks every group of settings shares: the environment's
 * type, a group's result, and the small readers and zod helpers the group
 * schemas are made of. A leaf module: it imports nothing of the app, so
 * that every group can use it without an import cycle.
 */
import { z } from "zod";

/** The environment as a plain object, e.g. `Deno.env.toObject()`. */
export type Env = Readonly<Record<string, string | undefined>>;

/** A group of settings: valid with values, or invalid with problems. */
export type SettingsGroup<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly problems: readonly string[] };

/** The trimmed value, or `undefined` when empty. */
export const optional = (value: string | undefined): string | undefined => {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
};

/** Whether `value` is an http(s) URL. */
export const isUrl = (value: string): boolean => {
  try {
    const url = new URL(value);
    return url.protocol === "http:" || url.protocol === "https:";
  } catch {
    return false;
  }
};

/** A valid group built by `build`, or an invalid one with `problems`. */
export function group<T>(problems: string[], build: () => T): SettingsGroup<T> {
  return problems.length ? { ok: false, problems } : { ok: true, value: build() };
}

/** Values a boolean variable accepts, by meaning. */
export const BOOLEAN_WORDS: {
  readonly true: readonly string[];
  readonly false: readonly string[];
} = {
  true: ["1", "true", "yes", "on"],
  false: ["0", "false", "no", "off"],
};

/**
 * Parses `env` with `schema`, every variable read with {@link optional} (so
 * `NAME=` counts as unset), and builds the group's value from the result.
 * Each zod issue becomes one problem: its message, which the schemas write
 * naming the variable and never its value (zod's own messages do not echo
 * values either).
 */
export function parseGroup<S extends z.ZodType, T = z.output<S>>(
  schema: S,
  env: Env,
  build: (value: z.output<S>) => T = (value) => value as T,
): SettingsGroup<T> {
  const input = Object.fromEntries(Object.entries(env).map(([name, raw]) => [name, optional(raw)]));
  const result = schema.safeParse(input);
  if (result.success) return { ok: true, value: build(result.data) };
  return { ok: false, problems: result.error.issues.map((issue) => issue.message) };
}

/** A required variable: `missing` is the whole message when it is unset. */
export const required = (missing: string) => z.string({ error: missing });

/** An optional http(s) URL. */
export const optionalUrl = (name: string) =>
  z.string().refine(isUrl, { error: `${name} must be an http(s) URL` }).optional();

/** A boolean variable (1/0, true/false, yes/no, on/off), `fallback` when unset. */
export const flag = (name: string, fallback: boolean, rule = "must be true or false") =>
  z.string()
    .transform((value) => value.toLowerCase())
    .refine((value) => [...BOOLEAN_WORDS.true, ...BOOLEAN_WORDS.false].includes(value), {
      error: `${name} ${rule}`,
    })
    .transform((value) => BOOLEAN_WORDS.true.includes(value))
    .optional()
    .transform((value) => value ?? fallback);

/** Bytes that base64 or base64url text decodes to, or 0 when it is not base64. */
export function decodedLength(text: string): number {
  const normalized = text.replace(/-/g, "+").replace(/_/g, "/");
  try {
    return atob(normalized.padEnd(Math.ceil(normalized.length / 4) * 4, "=")).length;
  } catch {
    return 0;
  }
}

/**
 * Secrets separated by spaces (several during a rotation), each of which
 * must pass `each`: `missing` when unset, `<name> must be <shape>` when not.
 */
export const secretList = (
  name: string,
  missing: string,
  each: (secret: string) => boolean,
  shape: string,
) =>
  z.string({ error: `${name} is missing: ${missing}` })
    .transform((raw) => raw.split(/\s+/))
    .refine((secrets) => secrets.every(each), { error: `${name} must be ${shape}` });

/** Whether `secret` is `whsec_` followed by base64, as Svix signing secrets are. */
export const isSvixSecret = (secret: string): boolean =>
  secret.startsWith("whsec_") && decodedLength(secret.slice(6)) > 0;

/**
 * The group's value; throws `<action>: <problems>` while it is invalid.
 * Routes reach their groups only once they are valid, so there it never
 * throws; services reach theirs on first use, when it may.
 */
export function groupValue<T>(group: SettingsGroup<T>, action = "Not configured"): T {
  if (group.ok) return group.value;
  throw new Error(`${action}: ${group.problems.join("; ")}`);
}
