/**
 * A sliding-window request budget: at most `limit` requests start within
 * any `periodMs`. A request over budget waits until the oldest one in the
 * window leaves it.
 *
 * It is per process. Clerk counts per instance, across every caller, so a
 * 429 can still happen (another isolate, another app); its `Retry-After` is
 * then the fallback (see `ClerkRateLimitError`).
 */
import type { RequestBudget } from "../settings/clerk_api.ts";

/** Waits, when needed, before each request. */
export interface RequestLimiter {
  /** Resolves when one more request may start, and counts it. */
  acquire(): Promise<void>;
}

/** Options for {@link createRequestLimiter}; the clock is injectable for tests. */
export interface RequestLimiterOptions extends RequestBudget {
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Creates a limiter that keeps to `limit` requests per `periodMs`. */
export function createRequestLimiter(options: RequestLimiterOptions): RequestLimiter {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? defaultSleep;
  // Start times of the requests in the current window, oldest first.
  const started: number[] = [];
  let queue: Promise<void> = Promise.resolve();
  const take = async () => {
    for (;;) {
      const at = now();
      while (started.length && started[0] <= at - options.periodMs) started.shift();
      if (started.length < options.limit) {
        started.push(at);
        return;
      }
      await sleep(started[0] + options.periodMs - at);
    }
  };
  return {
    // Callers queue, so that they start in the order they asked.
    acquire: () => (queue = queue.then(take)),
  };
}
