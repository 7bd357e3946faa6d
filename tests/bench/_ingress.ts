/**
 * Benchmarks 1 and 5: webhook ingress throughput and latency of the app
 * against a bare forwarder, both forwarding to the same event API stand-in,
 * and the app's peak memory while it serves that load.
 */
import { clerkPayload, signHeaders } from "../support/clerk.ts";
import { testEnv } from "../support/env.ts";
import { type LoadOptions, type LoadResult, median, runLoad } from "./_load.ts";
import { type Server, spawnServer, waitUntilAnswering } from "./_process.ts";
import { compare, num, type Row } from "./_report.ts";

/** How the ingress benchmark runs. */
export interface IngressOptions {
  readonly eventApiUrl: string;
  readonly rounds: number;
  readonly concurrency: number;
  readonly roundMs: number;
  readonly warmupMs: number;
  readonly maxRequestsPerRound: number;
  readonly progress: (line: string) => void;
}

/** Runs benchmarks 1 and 5 and returns their rows. */
export async function ingressBenchmark(options: IngressOptions): Promise<Row[]> {
  const body = JSON.stringify(clerkPayload("user.created"));
  // Signed once: svix accepts the timestamp for five minutes.
  const headers = { "content-type": "application/json", ...signHeaders(body) };
  const env = Object.fromEntries(
    Object.entries(testEnv({ INNGEST_EVENT_API_BASE_URL: options.eventApiUrl }))
      .filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
  const ours = spawnServer("ours", { env });
  const bare = spawnServer("bare_forwarder", { args: [options.eventApiUrl] });
  try {
    const targets: [Server, string][] = [
      [ours, `${ours.url}/clerk-events/webhook`],
      [bare, `${bare.url}/webhook`],
    ];
    const load = (url: string, durationMs: number): LoadOptions => ({
      url,
      headers,
      body,
      concurrency: options.concurrency,
      durationMs,
      maxRequests: options.maxRequestsPerRound,
    });
    const idleRss = new Map<Server, number>();
    for (const [server, url] of targets) {
      const since = performance.now();
      await waitUntilAnswering(() => fetch(url, { method: "POST", headers, body }), since);
      idleRss.set(server, await server.rssMb());
      const warm = await runLoad(load(url, options.warmupMs));
      check(server, warm);
    }

    const results = new Map<Server, LoadResult[]>(targets.map(([server]) => [server, []]));
    const cpuPerRequest = new Map<Server, number[]>(targets.map(([server]) => [server, []]));
    for (let round = 1; round <= options.rounds; round++) {
      // Alternate which goes first, so that neither always runs on a
      // machine warmed (or throttled) by the other.
      const order = round % 2 ? targets : [...targets].reverse();
      for (const [server, url] of order) {
        const cpuBefore = await server.cpuMs();
        const result = check(server, await runLoad(load(url, options.roundMs)));
        const cpuUs = (1000 * (await server.cpuMs() - cpuBefore)) / result.ok;
        results.get(server)!.push(result);
        cpuPerRequest.get(server)!.push(cpuUs);
        options.progress(
          `ingress round ${round} ${server.name}: ${num()(result.requestsPerSecond)} req/s, ` +
            `p50 ${result.p50Ms.toFixed(2)} ms, p99 ${result.p99Ms.toFixed(2)} ms ` +
            `${cpuUs.toFixed(0)} µs CPU/request (${result.ok} requests)`,
        );
      }
    }
    const stat = (server: Server, pick: (r: LoadResult) => number) =>
      median(results.get(server)!.map(pick));
    const oursPeak = await ours.peakRssMb();
    const barePeak = await bare.peakRssMb();
    const c = options.concurrency;
    return [
      compare(
        `1. Ingress throughput, req/s (c=${c})`,
        stat(ours, (r) => r.requestsPerSecond),
        stat(bare, (r) => r.requestsPerSecond),
        num(),
        { on: "ratio", op: ">=", value: 0.5 },
        "bare forwarder",
      ),
      compare(
        `1. Ingress latency p50, ms (c=${c})`,
        stat(ours, (r) => r.p50Ms),
        stat(bare, (r) => r.p50Ms),
        num(2),
        undefined,
        "bare forwarder",
      ),
      compare(
        `1. Ingress latency p99, ms (c=${c})`,
        stat(ours, (r) => r.p99Ms),
        stat(bare, (r) => r.p99Ms),
        num(2),
        { on: "ratio", op: "<=", value: 2 },
        "bare forwarder",
      ),
      compare(
        "1. Server CPU per request, µs (user+sys, all threads)",
        median(cpuPerRequest.get(ours)!),
        median(cpuPerRequest.get(bare)!),
        num(),
        undefined,
        "bare forwarder",
      ),
      compare(
        "5. RSS after start, before load, MB (VmRSS)",
        idleRss.get(ours)!,
        idleRss.get(bare)!,
        num(1),
        undefined,
        "bare forwarder",
      ),
      compare(
        "5. Peak RSS during benchmark 1, MB (VmHWM; ours with the dev task's V8 flags)",
        oursPeak,
        barePeak,
        num(1),
        { on: "ours", op: "<=", value: 150, unit: "MB" },
        "bare forwarder",
      ),
    ];
  } finally {
    await Promise.all([ours.stop(), bare.stop()]);
  }
}

/** Fails the run when a server answered with errors: its figures would lie. */
function check(server: Server, result: LoadResult): LoadResult {
  if (result.errors > 0) {
    throw new Error(
      `Cannot benchmark ${server.name}: ${result.errors} of ${result.ok + result.errors} ` +
        `requests failed (first: ${result.firstError})`,
    );
  }
  return result;
}
