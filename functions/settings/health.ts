/**
 * Settings of the health route: the token that unlocks its details.
 */
import type { Env, SettingsGroup } from "../settings.ts";

/** Settings of `/health`. */
export interface HealthSettings {
  /** Bearer token that unlocks the detailed answer; absent: details only in dev mode. */
  readonly token?: string;
}

/** Shortest accepted HEALTH_TOKEN: long enough that guessing it is hopeless. */
export const MIN_HEALTH_TOKEN_LENGTH = 32;

/** Parses HEALTH_TOKEN. Never throws; problems name the variable, never its value. */
export function parseHealth(env: Env): SettingsGroup<HealthSettings> {
  const token = env.HEALTH_TOKEN?.trim() || undefined;
  if (token !== undefined && token.length < MIN_HEALTH_TOKEN_LENGTH) {
    return {
      ok: false,
      problems: [
        `HEALTH_TOKEN must be at least ${MIN_HEALTH_TOKEN_LENGTH} characters: ` +
        "deno task secret --token prints one",
      ],
    };
  }
  return { ok: true, value: { token } };
}
