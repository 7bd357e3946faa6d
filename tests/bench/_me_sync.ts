/**
 * Benchmark 7: latency of `POST /clerk-events/users/me/sync` against a bare
 * handler that does the same Backend API fetch and upsert without verifying
 * a session token, reading the row first, or recording the check.
 *
 * Both run in this process, through the same client code (the Backend API
 * client, the users store over supabase-js), against the same PostgREST
 * double, database and Backend API stand-in, which run in a process of their
 * own (`servers/me_sync_backends.ts`), as PostgREST and Clerk would. Every
 * request is for a user never synced before, so the route never answers
 * from its freshness window and both sides fetch from Clerk and write. The
 * route checks tokens against the JWKS (fetched once, in the warm-up), as
 * it does without CLERK_JWT_KEY.
 *
 * For information, a second pass slows every Backend API answer down by
 * 30 ms, as a Clerk that is not on loopback would be.
 */
import { createApp } from "../../functions/app.ts";
import { createClerkBackendApi } from "../../functions/clerk/backend_api.ts";
import { createServiceClient } from "../../functions/database/supabase_client.ts";
import { json } from "../../functions/http/http_error.ts";
import { createLogger } from "../../functions/util/log.ts";
import { createSupabaseUsersStore } from "../../functions/users/supabase_users_store.ts";
import { toUserRow } from "../../functions/users/user_row.ts";
import { testDatabase } from "../support/database.ts";
import { TEST_SERVICE_KEY, testEnv } from "../support/env.ts";
import { createTestInstance, mintSessionToken } from "../support/session_tokens.ts";
import { median, percentile } from "./_load.ts";
import { spawnServer, waitUntilAnswering } from "./_process.ts";
import { compare, num, type Row } from "./_report.ts";

/** Options of the on-demand sync benchmark. */
export interface MeSyncBenchOptions {
  /** Requests per side and round. */
  readonly requests: number;
  readonly rounds: number;
  readonly concurrency: number;
  readonly warmup: number;
  /** Requests per side and round with the Clerk stand-in slowed down. */
  readonly delayedRequests: number;
  readonly progress: (line: string) => void;
}

/** The options `deno task bench` runs benchmark 7 with. */
export function meSyncBenchOptions(
  quick: boolean,
  progress: (line: string) => void,
): MeSyncBenchOptions {
  return {
    requests: quick ? 200 : 1_000,
    rounds: quick ? 2 : 4,
    concurrency: 4,
    warmup: 100,
    delayedRequests: quick ? 40 : 200,
    progress,
  };
}

type Handler = (req: Request) => Promise<Response>;

const ROUTE_URL = "http://localhost/clerk-events/users/me/sync";
const APP_ORIGIN = "https://acme.test";

/** Runs benchmark 7 and returns its rows. */
export async function meSyncBenchmark(options: MeSyncBenchOptions): Promise<Row[]> {
  const db = await testDatabase();
  const instance = await createTestInstance("bench");
  const users = 2 * (options.warmup + options.rounds * options.requests) +
    2 * DELAYED_ROUNDS * options.delayedRequests;
  const backends = spawnServer("me_sync_backends", {
    env: {
      BENCH_DATABASE_URL: db.url,
      BENCH_JWKS: JSON.stringify({ keys: [instance.jwk] }),
      BENCH_USERS: String(users),
    },
  });
  let urls: { postgrest: string; clerk: string; secretKey: string } | undefined;
  await waitUntilAnswering(async () => {
    const res = await fetch(`${backends.url}/urls`);
    if (res.ok) urls = await res.clone().json();
    return res;
  }, performance.now());
  const { postgrest, clerk, secretKey } = urls!;

  const ours = createApp(
    testEnv({
      SUPABASE_URL: postgrest,
      SUPABASE_SERVICE_ROLE_KEY: TEST_SERVICE_KEY,
      CLERK_API_URL: clerk,
      // The bare handler keeps to no budget either.
      CLERK_API_REQUEST_BUDGET: "10000/1ms",
    }),
    { logger: createLogger({ sink: () => {} }) },
  ).handler;

  const clerkClient = createClerkBackendApi({ apiUrl: clerk, secretKey, timeoutMs: 5_000 });
  const store = createSupabaseUsersStore(
    createServiceClient({ url: postgrest, serviceKey: TEST_SERVICE_KEY }),
  );
  const bare: Handler = async (req) => {
    const user = await clerkClient.getUser(req.headers.get("x-user-id")!);
    if (!user) return json(404, { error: "user_not_found" });
    return json(200, { outcome: await store.upsert(toUserRow(user)) });
  };

  /** Requests for the next `count` users not synced yet, as `side` sends them. */
  let nextUser = 0;
  const requestsFor = async (side: "ours" | "bare", count: number) => {
    const requests: Request[] = [];
    for (let i = 0; i < count; i++) {
      const id = `user_mesync_${nextUser++}`;
      const headers: Record<string, string> = { origin: APP_ORIGIN };
      if (side === "ours") {
        const token = await mintSessionToken(instance, { sub: id, expiresIn: 900 });
        headers.authorization = `Bearer ${token}`;
      } else {
        headers["x-user-id"] = id;
      }
      requests.push(new Request(ROUTE_URL, { method: "POST", headers }));
    }
    return requests;
  };

  const sides: [string, "ours" | "bare", Handler][] = [
    ["route", "ours", ours],
    ["bare", "bare", bare],
  ];
  /** Alternating rounds of both sides; the medians of each side's p50 and p99. */
  const measure = async (label: string, rounds: number, requests: number) => {
    const p50 = new Map<string, number[]>(sides.map(([name]) => [name, []]));
    const p99 = new Map<string, number[]>(sides.map(([name]) => [name, []]));
    for (let round = 1; round <= rounds; round++) {
      for (const [name, side, handler] of round % 2 ? sides : [...sides].reverse()) {
        const latencies = await drive(
          handler,
          await requestsFor(side, requests),
          options.concurrency,
        );
        p50.get(name)!.push(percentile(latencies, 0.5));
        p99.get(name)!.push(percentile(latencies, 0.99));
        options.progress(
          `me/sync${label} round ${round} ${name}: p50 ${num(2)(percentile(latencies, 0.5))} ms, ` +
            `p99 ${num(2)(percentile(latencies, 0.99))} ms`,
        );
      }
    }
    const at = (map: Map<string, number[]>, name: string) => median(map.get(name)!);
    return { p50: (name: string) => at(p50, name), p99: (name: string) => at(p99, name) };
  };

  let local, delayed;
  try {
    for (const [, side, handler] of sides) {
      await drive(handler, await requestsFor(side, options.warmup), options.concurrency);
    }
    local = await measure("", options.rounds, options.requests);
    const slowed = await fetch(`${backends.url}/clerk-delay/${CLERK_DELAY_MS}`, { method: "PUT" });
    if (slowed.status !== 204) throw new Error(`Cannot slow the Clerk stand-in: ${slowed.status}`);
    delayed = await measure(
      ` (Clerk ${CLERK_DELAY_MS} ms away)`,
      DELAYED_ROUNDS,
      options.delayedRequests,
    );
  } finally {
    await backends.stop();
  }
  const figure = `(${options.concurrency} concurrent, new user each, JWKS cached)`;
  const baseline = "bare fetch + upsert";
  return [
    compare(
      `7. On-demand sync latency p50, ms ${figure}`,
      local.p50("route"),
      local.p50("bare"),
      num(2),
      { on: "ratio", op: "<=", value: 1.5 },
      baseline,
    ),
    compare(
      `7. On-demand sync latency p99, ms ${figure}`,
      local.p99("route"),
      local.p99("bare"),
      num(2),
      undefined,
      baseline,
    ),
    compare(
      `7. On-demand sync latency p50, ms, with the Clerk stand-in answering after ${CLERK_DELAY_MS} ms`,
      delayed.p50("route"),
      delayed.p50("bare"),
      num(2),
      undefined,
      baseline,
    ),
  ];
}

/** A Backend API round trip from a Supabase region to Clerk, roughly; for information. */
const CLERK_DELAY_MS = 30;
const DELAYED_ROUNDS = 2;

/** Sends every request through `handler`, `concurrency` at a time; sorted latencies in ms. */
async function drive(handler: Handler, requests: Request[], concurrency: number) {
  const latencies: number[] = [];
  let next = 0;
  const deadline = performance.now() + 60_000;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < requests.length) {
      if (performance.now() > deadline) throw new Error("Cannot finish a me/sync round in 60 s");
      const req = requests[next++];
      const started = performance.now();
      const res = await handler(req);
      await res.arrayBuffer();
      latencies.push(performance.now() - started);
      if (res.status !== 200) throw new Error(`me/sync benchmark: answer ${res.status}`);
    }
  }));
  return latencies.sort((a, b) => a - b);
}

// Benchmark 7 alone, with the options `deno task bench` uses:
//   deno run --allow-all tests/bench/_me_sync.ts [--quick]
if (import.meta.main) {
  const { markdownTable } = await import("./_report.ts");
  const quick = Deno.args.includes("--quick");
  const rows = await meSyncBenchmark(meSyncBenchOptions(quick, (line) => console.error(line)));
  console.log(markdownTable(rows));
}
