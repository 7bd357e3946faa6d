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

/**
 * A zod string read from the environment: trimmed, and `undefined` when
 * empty, so that `NAME=` in a `.env` file counts as unset.
 */
export const envString = (): z.ZodType<string | undefined> =>
  z.preprocess(
    (value) => typeof value === "string" ? optional(value) : value,
    z.string().optional(),
  );

/**
 * Parses `env` with `schema` into a group. Each zod issue becomes one
 * problem: its message, which the schema writes naming the variable and
 * never its value.
 */
export function parseGroup<T>(
  schema: z.ZodType<T>,
  env: Env,
): SettingsGroup<T> {
  const result = schema.safeParse(env);
  if (result.success) return { ok: true, value: result.data };
  return { ok: false, problems: result.error.issues.map((issue) => issue.message) };
}
