/**
 * A simulated clock shared by the Inngest engine and the stand-ins, so that
 * sleeps of days, retry-after delays and 24-hour windows pass at once and in
 * a reproducible order, without a real wait.
 */

/** A clock that only moves when told to. */
export interface SimClock {
  /** The current simulated time, in ms since the epoch. */
  now(): number;
  /** Moves the clock forward to `at`; never backwards. */
  advanceTo(at: number): void;
  /** Moves the clock forward by `ms`. */
  advance(ms: number): void;
}

/** The default start of simulated time: 2026-11-01T00:00:00Z. */
export const SIM_EPOCH = Date.UTC(2026, 10, 1);

/** Creates a clock that starts at `start`. */
export function simClock(start: number = SIM_EPOCH): SimClock {
  let now = start;
  return {
    now: () => now,
    advanceTo: (at) => {
      if (at > now) now = at;
    },
    advance: (ms) => {
      now += Math.max(0, ms);
    },
  };
}

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** Milliseconds in an Inngest duration such as `3d`, `1h30m`, `10s` or `500ms`. */
export function durationMs(value: string | number): number {
  if (typeof value === "number") return value;
  const parts = [...value.matchAll(/(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)/g)];
  if (!parts.length || parts.map((p) => p[0]).join("") !== value.replace(/\s+/g, "")) {
    throw new RangeError(`Cannot read duration "${value}": expected e.g. 3d, 1h30m or 10s`);
  }
  return parts.reduce((sum, [, n, unit]) => sum + Number(n) * UNIT_MS[unit], 0);
}
