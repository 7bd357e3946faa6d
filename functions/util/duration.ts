/**
 * Inngest durations (`3d`, `12h`, `30m`, `1d12h`, `500ms`), as settings
 * accept them and `step.sleep` and `throttle.period` take them. One parser
 * serves the settings check, the email copy ("3 days ago") and the tests'
 * simulated clock, so they cannot disagree on what a duration means.
 */

/** An Inngest duration such as `3d`, `12h`, `30m`, `45s` or `1d12h`. */
export const DURATION = /^(\d+(ms|s|m|h|d|w))+$/;

const UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** Milliseconds in one hour, for callers that speak in hours. */
export const HOUR_MS = UNIT_MS.h;

/**
 * Milliseconds in `value`: an Inngest duration, or a number of ms (as the
 * SDK also accepts). Throws RangeError for anything else.
 */
export function durationMs(value: string | number): number {
  if (typeof value === "number") return value;
  if (!DURATION.test(value)) {
    throw new RangeError(`Cannot read duration "${value}": expected e.g. 3d, 12h or 30m`);
  }
  let total = 0;
  for (const [, count, unit] of value.matchAll(/(\d+)(ms|s|m|h|d|w)/g)) {
    total += Number(count) * UNIT_MS[unit];
  }
  return total;
}
