/**
 * One way to bound a wait: the Inngest send of the webhook, the opt-out
 * nudge, the readiness checks and Clerk's emails all wait through here.
 */

/** A wait that outlived its deadline; the work itself may still finish later. */
export class DeadlineError extends Error {
  /** The deadline that passed, in ms. */
  readonly deadlineMs: number;

  constructor(message: string, deadlineMs: number) {
    super(message);
    this.name = "DeadlineError";
    this.deadlineMs = deadlineMs;
  }
}

/**
 * Settles as `work` does, or rejects with {@link DeadlineError}(`message`)
 * once `deadlineMs` have passed, whichever comes first. The timer is
 * cleared as soon as `work` settles. One promise and one timer per call:
 * this is on the webhook's hot path.
 */
export function withDeadline<T>(work: Promise<T>, deadlineMs: number, message: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new DeadlineError(message, deadlineMs)), deadlineMs);
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
