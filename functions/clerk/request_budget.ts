/**
 * The Clerk request budget: at most `limit` requests start within any
 * `periodMs` (a sliding window), shared by every caller of the app's Backend
 * API client, with two priorities:
 *
 * - `interactive` (`POST /users/me/sync`: someone is waiting) goes first and
 *   may use the whole budget. It waits at most `interactiveMaxWaitMs`
 *   (about 2 s) for a slot, and is refused at once when no slot can free up
 *   within that.
 * - `background` (the reconcile) may start at most `limit - reserve`
 *   requests per window (see {@link interactiveReserve}), so that a
 *   reconcile using all it may still leaves slots to interactive callers. It
 *   waits at most `backgroundMaxWaitMs`.
 *
 * A refusal is a {@link RequestBudgetExhaustedError} that says when to try
 * again; no wait is unbounded and nothing queues without end.
 *
 * It is per process. Clerk counts per instance, across every caller, so a
 * 429 can still happen (another isolate, another app); its `Retry-After` is
 * then the fallback (see `ClerkRateLimitError`).
 */
import type { RequestBudget } from "../settings/clerk_api.ts";

/** Who is asking: someone waiting for the answer, or a background job. */
export type RequestPriority = "interactive" | "background";

/** Waits, when needed and for a bounded time, before each request. */
export interface RequestLimiter {
  /**
   * Resolves when one more request may start, and counts it; rejects with
   * {@link RequestBudgetExhaustedError} when that would take longer than the
   * priority's longest wait. Default priority: background.
   */
  acquire(priority?: RequestPriority): Promise<void>;
}

/** No slot of the budget frees up within the caller's longest wait. */
export class RequestBudgetExhaustedError extends Error {
  /** When a slot is expected to be free, in whole seconds, at least 1. */
  readonly retryAfterSeconds: number;

  constructor(message: string, retryAfterSeconds: number) {
    super(message);
    this.name = "RequestBudgetExhaustedError";
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** The time and timers the limiter uses; injectable for tests. */
export interface BudgetClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Options for {@link createRequestLimiter}. */
export interface RequestLimiterOptions extends RequestBudget {
  /** Longest wait of an interactive caller. Default {@link INTERACTIVE_MAX_WAIT_MS}. */
  readonly interactiveMaxWaitMs?: number;
  /** Longest wait of a background caller. Default {@link BACKGROUND_MAX_WAIT_MS}. */
  readonly backgroundMaxWaitMs?: number;
  /** Starts per window kept for interactive callers. Default {@link interactiveReserve}. */
  readonly interactiveReserve?: number;
  readonly clock?: BudgetClock;
}

/** Default longest wait of an interactive caller: the on-demand sync answers within about 2 s. */
export const INTERACTIVE_MAX_WAIT_MS = 2_000;
/** Default longest wait of a background caller; a reconcile step then retries later. */
export const BACKGROUND_MAX_WAIT_MS = 30_000;

/**
 * Requests one on-demand sync makes at most: the user, then their
 * organization memberships.
 */
export const ON_DEMAND_SYNC_REQUESTS = 2;

/**
 * Starts per window that background callers leave to interactive ones: one
 * in fifty, and at least one whole on-demand sync (2 of the default 50 per
 * 10 s; 20 of a production instance's 1,000), but never the whole budget
 * (none for a budget of one request, which the two priorities then share,
 * interactive first). Kept small: the reconcile's pace is the budget minus
 * this, and interactive callers also go first on every slot that frees up.
 */
export function interactiveReserve(limit: number): number {
  if (limit < 2) return 0;
  return Math.min(limit - 1, Math.max(ON_DEMAND_SYNC_REQUESTS, Math.floor(limit / 50)));
}

const realClock: BudgetClock = {
  now: Date.now,
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as number),
};

interface Waiter {
  readonly deadline: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/** Creates a limiter that keeps to `limit` requests per `periodMs`. */
export function createRequestLimiter(options: RequestLimiterOptions): RequestLimiter {
  const { limit, periodMs } = options;
  const clock = options.clock ?? realClock;
  const cap: Record<RequestPriority, number> = {
    interactive: limit,
    background: limit - (options.interactiveReserve ?? interactiveReserve(limit)),
  };
  const maxWait: Record<RequestPriority, number> = {
    interactive: options.interactiveMaxWaitMs ?? INTERACTIVE_MAX_WAIT_MS,
    background: options.backgroundMaxWaitMs ?? BACKGROUND_MAX_WAIT_MS,
  };
  // Start times of the requests in the window, oldest first, in a ring.
  const starts = new Array<number>(limit);
  let head = 0;
  let count = 0;
  const waiting: Record<RequestPriority, Waiter[]> = { interactive: [], background: [] };
  let timer: unknown;

  const oldest = (i: number) => starts[(head + i) % limit];
  const prune = (at: number) => {
    while (count > 0 && oldest(0) <= at - periodMs) {
      head = (head + 1) % limit;
      count -= 1;
    }
  };
  const record = (at: number) => {
    starts[(head + count) % limit] = at;
    count += 1;
  };

  /**
   * When a request of `priority` with `ahead` requests before it may start,
   * if nobody else arrives: once enough of the window's starts have left
   * it. Past the current window it is at least one period away.
   */
  const startsAt = (priority: RequestPriority, ahead: number, at: number): number => {
    const leave = count + ahead + 1 - cap[priority];
    if (leave <= 0) return at;
    if (leave <= count) return oldest(leave - 1) + periodMs;
    return at + periodMs * Math.ceil((leave - count) / cap[priority]);
  };
  const exhausted = (priority: RequestPriority, waitMs: number) =>
    new RequestBudgetExhaustedError(
      `The Clerk request budget (${limit} per ${periodMs} ms) has no free slot for a ` +
        `${priority} request within ${maxWait[priority]} ms`,
      Math.max(1, Math.ceil(waitMs / 1000)),
    );

  // Starts whoever may start now, interactive callers first; refuses those
  // whose longest wait is over; sleeps until the next start leaves the
  // window or the next deadline.
  const pump = () => {
    timer = undefined;
    const at = clock.now();
    prune(at);
    for (const priority of ["interactive", "background"] as const) {
      const queue = waiting[priority];
      while (queue.length > 0 && count < cap[priority]) {
        record(at);
        queue.shift()!.resolve();
      }
      while (queue.length > 0 && queue[0].deadline <= at) {
        const waitMs =
          startsAt(priority, priority === "background" ? waiting.interactive.length : 0, at) -
          at;
        queue.shift()!.reject(exhausted(priority, waitMs));
      }
    }
    const deadlines = [...waiting.interactive, ...waiting.background].map((w) => w.deadline);
    if (deadlines.length === 0) return;
    const wake = Math.min(count > 0 ? oldest(0) + periodMs : at, ...deadlines);
    timer = clock.setTimeout(pump, Math.max(0, wake - at));
  };

  return {
    acquire(priority = "background") {
      const at = clock.now();
      prune(at);
      const queue = waiting[priority];
      const ahead = queue.length + (priority === "background" ? waiting.interactive.length : 0);
      const waitMs = startsAt(priority, ahead, at) - at;
      if (waitMs > maxWait[priority]) return Promise.reject(exhausted(priority, waitMs));
      if (ahead === 0 && count < cap[priority]) {
        record(at);
        return Promise.resolve();
      }
      return new Promise<void>((resolve, reject) => {
        queue.push({ deadline: at + maxWait[priority], resolve, reject });
        if (timer !== undefined) clock.clearTimeout(timer);
        pump();
      });
    },
  };
}
