/**
 * Optional features: each is off until its settings are present, and then
 * validated like any group. `/health`'s details name each one as on or off
 * (with the reason), and an absent feature is never a problem: only a
 * feature that is partly configured is, naming what is missing.
 */
import type { Env, SettingsGroup } from "./_schema.ts";
import { optional } from "./_schema.ts";

/** An optional feature's settings: valid and `undefined` while it is off. */
export type FeatureGroup<T> = SettingsGroup<T | undefined>;

/**
 * Reads an optional feature: off (valid, `undefined`) while every one of
 * `names` is unset, else whatever `parse` makes of `env`.
 */
export function optionalFeature<T>(
  env: Env,
  names: readonly string[],
  parse: (env: Env) => SettingsGroup<T>,
): FeatureGroup<T> {
  return names.some((name) => optional(env[name])) ? parse(env) : { ok: true, value: undefined };
}

/** What `/health` says of one feature: `on`, `off: <why>` or `invalid`. */
export function describeFeature(group: FeatureGroup<unknown>, offReason: string): string {
  if (!group.ok) return "invalid (see problems)";
  return group.value === undefined ? `off: ${offReason}` : "on";
}
