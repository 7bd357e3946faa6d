/**
 * Bounded waits for tests: every wait on a workflow, a server or a stand-in
 * ends within a limit and fails with a message naming what it waited for.
 */

/** Resolves like `promise`, or rejects after `ms` naming `what` was awaited. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`Timed out after ${ms} ms waiting for ${what}`)),
      ms,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
