/**
 * The two loops of steps that every part of the reconcile runs: a Clerk
 * listing read page by page, one step per page, and the rows the listing
 * did not show, collected in one step and confirmed batch by batch.
 *
 * Step ids are made from the offset or the batch number exactly as the
 * parts always named them (`sync-users-from-500`, `confirm-absent-2`):
 * Inngest finds a finished step again by its id, so a run in flight across
 * a deploy must meet the same ids.
 */

/** A step whose failure is already mapped to a retry decision. */
export type Step = <T>(id: string, action: string, work: () => Promise<T>) => Promise<T>;

/** Where a page step left the listing. */
export interface PageProgress {
  /** The next offset, or null after the last page. */
  readonly next: number | null;
  /** Why the listing cannot be read (Clerk Billing not enabled): the loop ends there. */
  readonly unavailable?: string;
}

/**
 * Steps `<name>-from-<offset>` from offset 0 until a page says there is no
 * next one. Returns false when a page found the listing unavailable.
 */
export async function stepThroughPages(
  step: Step,
  name: string,
  action: string,
  page: (from: number) => Promise<PageProgress>,
): Promise<boolean> {
  for (let offset: number | null = 0; offset !== null;) {
    const from: number = offset;
    const progress = await step(
      `${name}-from-${from}`,
      `${action} at offset ${from}`,
      () => page(from),
    );
    if (progress.unavailable) return false;
    offset = progress.next;
  }
  return true;
}

/** One step of {@link collectThenConfirm}: its id (or id prefix), what fails, and the work. */
export interface LoopStep {
  readonly id: string;
  readonly action: string;
  /** How many rows it collected or confirmed. */
  readonly work: () => Promise<number>;
}

/**
 * Steps `collect` once, then `<confirm.id>-<batch>` until what was
 * collected is confirmed, or a batch confirms nothing (so a row that cannot
 * be settled never keeps the run looping).
 */
export async function collectThenConfirm(
  step: Step,
  collect: LoopStep,
  confirm: LoopStep,
): Promise<void> {
  const collected = await step(collect.id, collect.action, collect.work);
  for (let batch = 0; collected > 0; batch++) {
    const confirmed = await step(`${confirm.id}-${batch}`, confirm.action, confirm.work);
    if (confirmed === 0) break;
  }
}
