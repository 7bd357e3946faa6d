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
