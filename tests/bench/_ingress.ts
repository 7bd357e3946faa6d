/**
 * Benchmarks 1 and 5: webhook ingress throughput, latency and CPU against
 * the peer (what a user would write themselves: svix verify, `JSON.parse`,
 * `inngest.send`), and memory under that load, twice:
 *
 * - from source on Deno 2.9 (`servers/ours.ts` and `servers/peer.ts`, with
 *   the import map), as `deno task dev` runs it;
 * - as deployed: the artifact `deno task build` writes, and the peer built
 *   the same way, run on Deno 2.1 (what hosted Supabase runs) with no
 *   deno.json and no lock file.
 *
 * All four run under the dev task's V8 heap caps, forward to the same event
 * API stand-in in its own process, and get the same settings and nothing
 * else. A fifth, the artifact on 2.1 without heap flags, is measured for
 * memory only (the edge runtime ignores deno.json's flags).
 *
 * Every round runs each server once; each pair (ours and its peer) runs back
 * to back, in an order that alternates from round to round, so that each
 * pair saw the same machine; ratios are taken per round.
 */
import { clerkPayload, signHeaders } from "../support/clerk.ts";
import { testEnv } from "../support/env.ts";
import type { BenchArtifacts } from "./_artifacts.ts";
import { type LoadOptions, type LoadResult, runLoad } from "./_load.ts";
import { type Server, spawnArtifact, spawnServer, waitUntilAnswering } from "./_process.ts";
import { compare, num, type Row } from "./_report.ts";

/** How the ingress benchmark runs. */
export interface IngressOptions {
  readonly eventApiUrl: string;
  readonly artifacts: BenchArtifacts;
  readonly rounds: number;
  readonly concurrency: number;
  readonly roundMs: number;
  readonly warmupMs: number;
  readonly maxRequestsPerRound: number;
  readonly progress: (line: string) => void;
}

/** What one server measured in each round. */
interface Runs {
  readonly loads: LoadResult[];
  readonly cpuUsPerRequest: number[];
}

/** The options `deno task bench` runs benchmarks 1 and 5 with (`quick`: a smoke run). */
export function ingressBenchOptions(
  quick: boolean,
  eventApiUrl: string,
  artifacts: BenchArtifacts,
  progress: (line: string) => void,
): IngressOptions {
  return {
    eventApiUrl,
    artifacts,
    rounds: quick ? 3 : 7,
    concurrency: 32,
    roundMs: quick ? 1500 : 5000,
    warmupMs: quick ? 500 : 2000,
    maxRequestsPerRound: 500_000,
    progress,
  };
}

/** The p99 target against the peer, on the median of the rounds' ratios. */
export const P99_TARGET = 0.8;
/** Peak RSS target under load: well inside the 256 MB Supabase gives a function. */
export const PEAK_RSS_TARGET_MB = 150;

/** Runs benchmarks 1 and 5 and returns their rows. */
export async function ingressBenchmark(options: IngressOptions): Promise<Row[]> {
  const body = JSON.stringify(clerkPayload("user.created"));
  // Signed once: svix accepts the timestamp for five minutes.
  const headers = { "content-type": "application/json", ...signHeaders(body) };
  const env = Object.fromEntries(
    Object.entries(testEnv({ INNGEST_EVENT_API_BASE_URL: options.eventApiUrl }))
      .filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
  const { artifacts } = options;
  const runtime = { deno: artifacts.production.deno, denoEnv: artifacts.production.env };
  const on = `Deno ${artifacts.productionVersion}`;
  const url = (server: Server) =>
    `${server.url}${server.name === "ours" ? "/clerk-events/webhook" : "/webhook"}`;
  // One untimed start of each, to a first 2xx, so that every measured
  // process finds Deno's code cache warm, as the cold-start benchmarks do: a
  // freshly built file is otherwise compiled and cached on its first start,
  // which adds about 50 MB to that process's resident memory.
  const starts = [
    () => spawnServer("ours", { env, clearEnv: true }),
    () => spawnServer("peer", { env, clearEnv: true }),
    () => spawnArtifact({ name: "ours", label: "ours", entry: artifacts.ours, env, ...runtime }),
    () => spawnArtifact({ name: "peer", label: "peer", entry: artifacts.peer, env, ...runtime }),
  ];
  for (const start of starts) {
    const server = start();
    try {
      await waitUntilAnswering(
        () => fetch(url(server), { method: "POST", headers, body }),
        performance.now(),
      );
    } finally {
      await server.stop();
    }
  }
  // The same settings, and nothing else, for each: a deployed function's
  // environment holds little more.
  const ours = spawnServer("ours", { env, clearEnv: true, label: "ours from source" });
  const peer = spawnServer("peer", { env, clearEnv: true, label: "peer from source" });
  const built = spawnArtifact({
    name: "ours",
    label: `artifact on ${on}`,
    entry: artifacts.ours,
    env,
    ...runtime,
  });
  const builtPeer = spawnArtifact({
    name: "peer",
    label: `peer built, on ${on}`,
    entry: artifacts.peer,
    env,
    ...runtime,
  });
  const uncapped = spawnArtifact({
    name: "ours",
    label: `artifact on ${on} without heap flags`,
    entry: artifacts.ours,
    env,
    v8Flags: [],
    ...runtime,
  });
  const servers = [ours, peer, built, builtPeer, uncapped];
  try {
    const load = (server: Server, durationMs: number): LoadOptions => ({
      url: url(server),
      headers,
      body,
      concurrency: options.concurrency,
      durationMs,
      maxRequests: options.maxRequestsPerRound,
    });
    const idleRss = new Map<Server, number>();
    for (const server of servers) {
      await waitUntilAnswering(
        () => fetch(url(server), { method: "POST", headers, body }),
        performance.now(),
      );
      idleRss.set(server, await server.rssMb());
      check(server, await runLoad(load(server, options.warmupMs)));
    }

    const runs = new Map<Server, Runs>(
      servers.map((server) => [server, { loads: [], cpuUsPerRequest: [] }]),
    );
    for (let round = 1; round <= options.rounds; round++) {
      // Each pair back to back, and the order reversed every other round, so
      // that neither always runs on a machine warmed (or throttled) by the
      // other; the uncapped artifact, only measured for memory, last.
      const pairs = [ours, peer, built, builtPeer];
      for (const server of [...(round % 2 ? pairs : pairs.reverse()), uncapped]) {
        const cpuBefore = await server.cpuMs();
        const result = check(server, await runLoad(load(server, options.roundMs)));
        const cpuUs = (1000 * (await server.cpuMs() - cpuBefore)) / result.ok;
        runs.get(server)!.loads.push(result);
        runs.get(server)!.cpuUsPerRequest.push(cpuUs);
        options.progress(
          `ingress round ${round} ${server.label}: ${num()(result.requestsPerSecond)} req/s, ` +
            `p50 ${result.p50Ms.toFixed(2)} ms, p99 ${result.p99Ms.toFixed(2)} ms, ` +
            `${cpuUs.toFixed(0)} µs CPU/request (${result.ok} requests)`,
        );
      }
    }
    const each = (server: Server, pick: (r: LoadResult) => number) =>
      runs.get(server)!.loads.map(pick);
    const answered = (server: Server) => each(server, (r) => r.ok).reduce((a, b) => a + b, 0);
    const c = options.concurrency;
    const peak = new Map<Server, number>();
    for (const server of servers) peak.set(server, await server.peakRssMb());
    /** The ingress rows of one pair, labelled with `where`. */
    const pairRows = (a: Server, b: Server, where: string, baseline: string): Row[] => [
      compare(
        `1. Ingress throughput, req/s (c=${c}; ${where})`,
        each(a, (r) => r.requestsPerSecond),
        each(b, (r) => r.requestsPerSecond),
        num(),
        { on: "ratio", op: ">=", value: 1.2 },
        baseline,
      ),
      compare(
        `1. Ingress latency p50, ms (c=${c}; ${where})`,
        each(a, (r) => r.p50Ms),
        each(b, (r) => r.p50Ms),
        num(2),
        undefined,
        baseline,
      ),
      compare(
        `1. Ingress latency p99, ms (c=${c}; ${where})`,
        each(a, (r) => r.p99Ms),
        each(b, (r) => r.p99Ms),
        num(2),
        { on: "ratio", op: "<=", value: P99_TARGET },
        baseline,
      ),
      compare(
        `1. Server CPU per request, µs (user+sys, all threads; ${where})`,
        runs.get(a)!.cpuUsPerRequest,
        runs.get(b)!.cpuUsPerRequest,
        num(),
        undefined,
        baseline,
      ),
      {
        // `check` stops the run at the first non-2xx, so reaching this row
        // means there was none.
        figure: `1. Requests answered 2xx, all rounds (${where})`,
        ours: `${num()(answered(a))} of ${num()(answered(a))}`,
        baseline: `${num()(answered(b))} of ${num()(answered(b))} (${baseline})`,
        ratio: "n/a",
        target: "every request: met",
        met: true,
      },
      compare(
        `5. RSS after start, before load, MB (VmRSS; ${where})`,
        idleRss.get(a)!,
        idleRss.get(b)!,
        num(1),
        undefined,
        baseline,
      ),
      compare(
        `5. Peak RSS during benchmark 1, MB (VmHWM, the dev task's V8 flags; ${where})`,
        peak.get(a)!,
        peak.get(b)!,
        num(1),
        { on: "ours", op: "<=", value: PEAK_RSS_TARGET_MB, unit: "MB" },
        baseline,
      ),
    ];
    return [
      ...pairRows(ours, peer, "source, Deno 2.9", "peer"),
      ...pairRows(built, builtPeer, `artifact, ${on}`, "peer built the same way"),
      compare(
        `5. Peak RSS under the same load without heap flags, MB (VmHWM; artifact, ${on})`,
        peak.get(uncapped)!,
        peak.get(built)!,
        num(1),
        { on: "ours", op: "<=", value: PEAK_RSS_TARGET_MB, unit: "MB" },
        "the same with the dev task's V8 flags",
      ),
      compare(
        `1. Ingress throughput without heap flags, req/s (c=${c}; artifact, ${on})`,
        each(uncapped, (r) => r.requestsPerSecond),
        each(built, (r) => r.requestsPerSecond),
        num(),
        undefined,
        "the same with the dev task's V8 flags",
      ),
    ];
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
  }
}

/** Fails the run when a server answered with errors: its figures would lie. */
function check(server: Server, result: LoadResult): LoadResult {
  if (result.errors > 0) {
    throw new Error(
      `Cannot benchmark ${server.label}: ${result.errors} of ${result.ok + result.errors} ` +
        `requests failed (first: ${result.firstError})`,
    );
  }
  return result;
}
