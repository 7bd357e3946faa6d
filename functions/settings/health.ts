/**
 * Settings of the health route: the token that unlocks its details.
 */
import { z } from "zod";
import { type Env, parseGroup, type SettingsGroup } from "./_schema.ts";

/** Settings of `/health`. */
export interface HealthSettings {
  /**
   * Bearer tokens that unlock the detailed answer (several, separated by
   * spaces, during a rotation); empty: details only in dev mode.
   */
  readonly tokens: readonly string[];
}

/** The variables of the group. */
export const HEALTH_SETTING_NAMES = ["HEALTH_TOKEN"] as const;

/** Shortest accepted HEALTH_TOKEN: long enough that guessing it is hopeless. */
export const MIN_HEALTH_TOKEN_LENGTH = 32;

const schema = z.object({
  HEALTH_TOKEN: z.string()
    .transform((raw) => raw.split(/\s+/))
    .refine((tokens) => tokens.every((token) => token.length >= MIN_HEALTH_TOKEN_LENGTH), {
      error: `HEALTH_TOKEN must be at least ${MIN_HEALTH_TOKEN_LENGTH} characters: ` +
        "deno task secret --token prints one",
    })
    .default([]),
});

/**
 * Parses HEALTH_TOKEN: one token, or "new old" during a rotation. Never
 * throws; problems name the variable, never its value.
 */
export function parseHealth(env: Env): SettingsGroup<HealthSettings> {
  return parseGroup(schema, env, (value) => ({ tokens: value.HEALTH_TOKEN }));
}
