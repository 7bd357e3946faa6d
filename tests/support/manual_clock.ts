/**
 * A clock whose time and timers move only when a test says so, for code
 * that takes a `BudgetClock` (the Clerk request budget): a wait on it never
 * ends by itself, so a test sees whether anything waited at all.
 */
import type { BudgetClock } from "../../functions/clerk/request_budget.ts";

/** A {@link BudgetClock} moved by hand. */
export interface ManualClock extends BudgetClock {
  /**
   * Moves time forward by `ms`, firing the timers that fall due in order,
   * and lets the code they wake run before it resolves.
   */
  advance(ms: number): Promise<void>;
  /** How many timers are pending. */
  pending(): number;
}

interface Timer {
  readonly id: number;
  readonly at: number;
  readonly fn: () => void;
}

/** Creates a clock at `start` (ms). */
export function manualClock(start = 0): ManualClock {
  let now = start;
  let nextId = 1;
  const timers = new Map<number, Timer>();
  // A macrotask: every promise continuation queued so far has run after it.
  const settle = () => new Promise<void>((resolve) => setTimeout(resolve, 0));
  return {
    now: () => now,
    setTimeout(fn, ms) {
      const timer = { id: nextId++, at: now + Math.max(0, ms), fn };
      timers.set(timer.id, timer);
      return timer.id;
    },
    clearTimeout(handle) {
      timers.delete(handle as number);
    },
    async advance(ms) {
      const end = now + Math.max(0, ms);
      await settle();
      for (;;) {
        const due = [...timers.values()].filter((t) => t.at <= end)
          .sort((a, b) => a.at - b.at || a.id - b.id)[0];
        if (!due) break;
        timers.delete(due.id);
        now = Math.max(now, due.at);
        due.fn();
        await settle();
      }
      now = end;
      await settle();
    },
    pending: () => timers.size,
  };
}
