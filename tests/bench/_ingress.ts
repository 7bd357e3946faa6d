/**
 * Benchmarks 1 and 5: webhook ingress throughput, latency and CPU of the app
 * against the peer (what a user would write themselves: svix verify,
 * `JSON.parse`, `inngest.send`), both under the dev task's V8 heap caps and
 * forwarding to the same event API stand-in in its own process; and the
 * app's memory under that load, with those caps and without any.
 *
 * Every round runs each server once, in alternating order, so that each
 * pair of runs saw the same machine; ratios are taken per round.
 */
import { clerkPayload, signHeaders } from "../support/clerk.ts";
import { testEnv } from "../support/env.ts";
import { type LoadOptions, type LoadResult, runLoad } from "./_load.ts";
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

/** What one server measured in each round. */
interface Runs {
  readonly loads: LoadResult[];
  readonly cpuUsPerRequest: number[];
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
  // The same settings, and nothing else, for each: a deployed function's
  // environment holds little more.
  const ours = spawnServer("ours", { env, clearEnv: true });
  const peer = spawnServer("peer", { env, clearEnv: true });
  // The app as the entrypoint runs it by default: no V8 flags at all.
  const uncapped = spawnServer("ours", {
    env,
    clearEnv: true,
    v8Flags: [],
    label: "ours without heap flags",
  });
  try {
    const targets: [Server, string][] = [
      [ours, `${ours.url}/clerk-events/webhook`],
      [peer, `${peer.url}/webhook`],
      [uncapped, `${uncapped.url}/clerk-events/webhook`],
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
      await waitUntilAnswering(
        () => fetch(url, { method: "POST", headers, body }),
        performance.now(),
      );
      idleRss.set(server, await server.rssMb());
      check(server, await runLoad(load(url, options.warmupMs)));
    }

    const runs = new Map<Server, Runs>(
      targets.map(([server]) => [server, { loads: [], cpuUsPerRequest: [] }]),
    );
    for (let round = 1; round <= options.rounds; round++) {
      // Ours and the peer back to back, alternating which goes first, so
      // that neither always runs on a machine warmed (or throttled) by the
      // other; the uncapped app, only measured for memory, last.
      const pair = round % 2 ? targets.slice(0, 2) : targets.slice(0, 2).reverse();
      for (const [server, url] of [...pair, targets[2]]) {
        const cpuBefore = await server.cpuMs();
        const result = check(server, await runLoad(load(url, options.roundMs)));
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
    return [
      compare(
        `1. Ingress throughput, req/s (c=${c})`,
        each(ours, (r) => r.requestsPerSecond),
        each(peer, (r) => r.requestsPerSecond),
        num(),
        { on: "ratio", op: ">=", value: 1.2 },
        "peer",
      ),
      compare(
        `1. Ingress latency p50, ms (c=${c})`,
        each(ours, (r) => r.p50Ms),
        each(peer, (r) => r.p50Ms),
        num(2),
        undefined,
        "peer",
      ),
      compare(
        `1. Ingress latency p99, ms (c=${c})`,
        each(ours, (r) => r.p99Ms),
        each(peer, (r) => r.p99Ms),
        num(2),
        { on: "ratio", op: "<=", value: 1 },
        "peer",
      ),
      compare(
        "1. Server CPU per request, µs (user+sys, all threads)",
        runs.get(ours)!.cpuUsPerRequest,
        runs.get(peer)!.cpuUsPerRequest,
        num(),
        undefined,
        "peer",
      ),
      {
        // `check` stops the run at the first non-2xx, so reaching this row
        // means there was none.
        figure: "1. Requests answered 2xx, all rounds",
        ours: `${num()(answered(ours))} of ${num()(answered(ours))}`,
        baseline: `${num()(answered(peer))} of ${num()(answered(peer))} (peer)`,
        ratio: "n/a",
        target: "every request: met",
        met: true,
      },
      compare(
        "5. RSS after start, before load, MB (VmRSS)",
        idleRss.get(ours)!,
        idleRss.get(peer)!,
        num(1),
        undefined,
        "peer",
      ),
      compare(
        "5. Peak RSS during benchmark 1, MB (VmHWM; both with the dev task's V8 flags)",
        await ours.peakRssMb(),
        await peer.peakRssMb(),
        num(1),
        { on: "ours", op: "<=", value: 150, unit: "MB" },
        "peer",
      ),
      compare(
        "5. Peak RSS under the same load without heap flags, MB (VmHWM)",
        await uncapped.peakRssMb(),
        await ours.peakRssMb(),
        num(1),
        undefined,
        "ours with the dev task's V8 flags",
      ),
      compare(
        `1. Ingress throughput without heap flags, req/s (c=${c})`,
        each(uncapped, (r) => r.requestsPerSecond),
        each(ours, (r) => r.requestsPerSecond),
        num(),
        undefined,
        "ours with the dev task's V8 flags",
      ),
    ];
  } finally {
    await Promise.all([ours.stop(), peer.stop(), uncapped.stop()]);
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
