/**
 * Memoizes an async factory. A rejected attempt is forgotten, so the next
 * call tries again (a workflow retry after a transient failure, say).
 */
export function lazy<T>(factory: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => {
    pending ??= factory().catch((error) => {
      pending = undefined;
      throw error;
    });
    return pending;
  };
}
