/**
 * The paged listing loop and the bounded fan-out of lookups that every
 * repair from Clerk's Backend API shares (the users, organizations and
 * memberships of the reconcile).
 */
import type { Logger } from "../util/log.ts";
import { errorFields } from "../util/log.ts";
import { ClerkApiError } from "./backend_api.ts";

/** Whether a retry may cure `error` (a 429, a 5xx, a network error). */
export function transient(error: unknown): boolean {
  return error instanceof ClerkApiError && !error.permanent;
}

/** Log fields for a failure: its status, and its message with addresses masked. */
export function why(error: unknown) {
  return {
    status: error instanceof ClerkApiError ? error.status : undefined,
    ...errorFields(error),
  };
}

/** Where listing goes on after a step; `next` is `null` once Clerk has no more. */
export interface SyncProgress {
  readonly listed: number;
  readonly next: number | null;
}

/** One listed page: its rows, and whether Clerk has more after it. */
export interface ListedPage<R> {
  readonly rows: readonly R[];
  readonly more: boolean;
}

/** Options for {@link applyPagesFrom}. */
export interface PagesOptions<R> {
  readonly offset: number;
  readonly pageSize: number;
  readonly pagesPerStep: number;
  readonly log: Logger;
  /** Fields every log line carries (the run id, the kind). */
  readonly logFields: Readonly<Record<string, unknown>>;
  /** The log message once the pages are applied. */
  readonly applied: string;
  /** Lists the page at `offset`. */
  readonly list: (offset: number) => Promise<ListedPage<R>>;
  /** Applies one page with one database call. */
  readonly write: (offset: number, rows: readonly R[]) => Promise<unknown>;
}

/** Page writes in flight at once within a step. */
const WRITES_IN_FLIGHT = 3;

/** Lookups in flight at once; the request budget still paces them. */
const LOOKUPS_IN_FLIGHT = 5;

/**
 * Lists up to `pagesPerStep` pages from `offset`, oldest first, and applies
 * each with one database call. The next page is requested while earlier
 * ones are written, and a few pages are written at once (they hold
 * different rows, so their order does not matter). A transient Clerk
 * failure after the first page ends the step early with its progress, so
 * that a retry never repeats requests whose work is kept.
 */
export async function applyPagesFrom<R>(options: PagesOptions<R>): Promise<SyncProgress> {
  const { offset, pageSize, pagesPerStep, log, logFields } = options;
  const started = performance.now();
  const list = (at: number) => {
    const page = options.list(at);
    page.catch(() => {}); // awaited below, or abandoned when the step fails
    return page;
  };
  const writes: Promise<void>[] = [];
  let writeError: { error: unknown } | undefined;
  const write = (at: number, rows: readonly R[]) => {
    writes.push(
      options.write(at, rows).then(() => {}, (error) => void (writeError ??= { error })),
    );
  };

  let at = offset;
  let pending = list(at);
  let next: number | null = null;
  for (let page = 0; page < pagesPerStep; page++) {
    let listed: ListedPage<R>;
    try {
      listed = await pending;
    } catch (error) {
      if (page === 0 || !transient(error)) {
        await Promise.all(writes);
        throw error;
      }
      log.warn("Reconcile listing paused", { ...logFields, offset: at, ...why(error) });
      next = at;
      break;
    }
    const { rows, more } = listed;
    if (more && page + 1 < pagesPerStep) pending = list(at + pageSize);
    if (rows.length) write(at, rows);
    at += rows.length;
    next = more ? at : null;
    while (writes.length >= WRITES_IN_FLIGHT) await writes.shift();
    if (writeError || !more) break;
  }
  await Promise.all(writes);
  if (writeError) throw writeError.error;
  log.info(options.applied, {
    ...logFields,
    offset,
    listed: at - offset,
    duration_ms: Math.round(performance.now() - started),
  });
  return { listed: at - offset, next };
}

/** `call` for each item, a few at a time, answers in the order of `items`. */
export async function inFlight<I, T>(
  items: readonly I[],
  call: (item: I) => Promise<T>,
): Promise<PromiseSettledResult<T>[]> {
  const answers: PromiseSettledResult<T>[] = [];
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      answers[i] = await call(items[i]).then(
        (value) => ({ status: "fulfilled", value }) as const,
        (reason) => ({ status: "rejected", reason }) as const,
      );
    }
  };
  await Promise.all(Array.from({ length: Math.min(LOOKUPS_IN_FLIGHT, items.length) }, worker));
  return answers;
}
