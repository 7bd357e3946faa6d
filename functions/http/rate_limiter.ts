/**
 * A per-key fixed-window rate limiter kept in memory, for limits that protect
 * a shared budget from one caller (say, one user reloading a page in a loop).
 *
 * Each instance of the function counts on its own, so the limit is per
 * instance: it bounds what one caller costs, it is not an exact quota.
 * Memory is bounded: expired windows are dropped, and past `maxKeys` the
 * oldest key is forgotten.
 */

/** Options for {@link createRateLimiter}. */
export interface RateLimiterOptions {
  /** Requests allowed per key and window. */
  readonly limit: number;
  readonly windowMs: number;
  /** Most keys tracked at once. Default 10,000. */
  readonly maxKeys?: number;
  /** The clock, for tests. */
  readonly now?: () => number;
}

/** Whether a request may go ahead, and if not, when to come back. */
export type RateDecision =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly retryAfterSeconds: number };

/** Counts one request for `key`. */
export type RateLimiter = (key: string) => RateDecision;

/** Creates a limiter. */
export function createRateLimiter(options: RateLimiterOptions): RateLimiter {
  const { limit, windowMs } = options;
  const maxKeys = options.maxKeys ?? 10_000;
  const now = options.now ?? Date.now;
  // Insertion order is window start order, so the oldest come first.
  const windows = new Map<string, { start: number; count: number }>();

  return (key) => {
    const at = now();
    for (const [oldKey, window] of windows) {
      if (at - window.start < windowMs && windows.size < maxKeys) break;
      windows.delete(oldKey);
    }
    let window = windows.get(key);
    if (!window) {
      window = { start: at, count: 0 };
      windows.set(key, window);
    }
    if (window.count >= limit) {
      return {
        allowed: false,
        retryAfterSeconds: Math.max(1, Math.ceil((window.start + windowMs - at) / 1000)),
      };
    }
    window.count += 1;
    return { allowed: true };
  };
}
