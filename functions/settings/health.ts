/**
 * Settings of the health route: the token that unlocks its details.
 */
import type { Env, SettingsGroup } from "./_schema.ts";

/** Settings of `/health`. */
export interface HealthSettings {
  /**
   * Bearer tokens that unlock the detailed answer (several, separated by
   * spaces, during a rotation); empty: details only in dev mode.
   */
  readonly tokens: readonly string[];
}

/** Shortest accepted HEALTH_TOKEN: long enough that guessing it is hopeless. */
export const MIN_HEALTH_TOKEN_LENGTH = 32;

/**
 * Parses HEALTH_TOKEN: one token, or "new old" during a rotation. Never
 * throws; problems name the variable, never its value.
 */
export function parseHealth(env: Env): SettingsGroup<HealthSettings> {
  const tokens = env.HEALTH_TOKEN?.trim().split(/\s+/).filter(Boolean) ?? [];
  if (tokens.some((token) => token.length < MIN_HEALTH_TOKEN_LENGTH)) {
    return {
      ok: false,
      problems: [
        `HEALTH_TOKEN must be at least ${MIN_HEALTH_TOKEN_LENGTH} characters: ` +
        "deno task secret --token prints one",
      ],
    };
  }
  return { ok: true, value: { tokens } };
}
