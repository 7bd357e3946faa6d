/**
 * A small HTTP load client: a fixed number of concurrent workers sending the
 * same request, bounded both in requests and in time.
 */

/** What to send, and how hard. */
export interface LoadOptions {
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly concurrency: number;
  readonly durationMs: number;
  readonly maxRequests: number;
  /** Per-request limit; a request that takes longer counts as an error. */
  readonly requestTimeoutMs?: number;
}

/** What a load run measured. */
export interface LoadResult {
  readonly ok: number;
  readonly errors: number;
  readonly firstError?: string;
  readonly seconds: number;
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/** Sends requests until `durationMs` has passed or `maxRequests` were sent. */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let issued = 0;
  const started = performance.now();
  const deadline = started + options.durationMs;

  const worker = async () => {
    while (performance.now() < deadline && issued < options.maxRequests) {
      issued += 1;
      const t0 = performance.now();
      try {
        const res = await fetch(options.url, {
          method: "POST",
          headers: options.headers,
          body: options.body,
          signal: AbortSignal.timeout(options.requestTimeoutMs ?? 10_000),
        });
        await res.arrayBuffer();
        if (res.ok) {
          latencies.push(performance.now() - t0);
          continue;
        }
        firstError ??= `status ${res.status}`;
      } catch (error) {
        firstError ??= error instanceof Error ? error.message : String(error);
      }
      errors += 1;
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    ok: latencies.length,
    errors,
    firstError,
    seconds,
    requestsPerSecond: latencies.length / seconds,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
  };
}

/** The `q` quantile of sorted `values` (nearest rank); NaN when empty. */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

/** The median of `values`; NaN when empty. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
