/**
 * Benchmark 6: latency of `POST /clerk-events/users/me/sync` against a bare
 * handler that does the same Backend API fetch and upsert without verifying
 * a session token, reading the row first, or recording the check.
 *
 * Both run in this process against the same PostgREST double, database and
 * Backend API stand-in, through the same client code (the Backend API
 * client, the users store over supabase-js). Every request is for a user
 * never synced before, so the route never answers from its freshness window
 * and both sides fetch from Clerk and write. The route checks tokens against
 * the JWKS (fetched once, in the warm-up), as it does without CLERK_JWT_KEY.
 */
import postgres from "postgres";
import { createApp } from "../../functions/app.ts";
import { createClerkBackendApi } from "../../functions/clerk/backend_api.ts";
import { createServiceClient } from "../../functions/database/supabase_client.ts";
import { json } from "../../functions/http/http_error.ts";
import { createLogger } from "../../functions/log.ts";
import { createSupabaseUsersStore } from "../../functions/users/supabase_users_store.ts";
import { toUserRow } from "../../functions/users/user_row.ts";
import { clerkUser, startClerkApi } from "../support/clerk_api.ts";
import { testDatabase } from "../support/database.ts";
import { TEST_SERVICE_KEY, testEnv } from "../support/env.ts";
import { startPostgrestDouble } from "../support/postgrest_double.ts";
import { createTestInstance, mintSessionToken } from "../support/session_tokens.ts";
import { median, percentile } from "./_load.ts";
import { compare, num, type Row } from "./_report.ts";

/** Options of the on-demand sync benchmark. */
export interface MeSyncBenchOptions {
  /** Requests per side and round. */
  readonly requests: number;
  readonly rounds: number;
  readonly concurrency: number;
  readonly warmup: number;
  readonly progress: (line: string) => void;
}

type Handler = (req: Request) => Promise<Response>;

const ROUTE_URL = "http://localhost/clerk-events/users/me/sync";
const APP_ORIGIN = "https://acme.test";

/** Runs benchmark 6 and returns its rows. */
export async function meSyncBenchmark(options: MeSyncBenchOptions): Promise<Row[]> {
  const db = await testDatabase();
  const sql = postgres(db.url, { max: options.concurrency, onnotice: () => {} });
  const double = startPostgrestDouble({ sql, serviceKey: TEST_SERVICE_KEY });
  const clerk = startClerkApi();
  clerk.rateLimit = undefined;
  const instance = await createTestInstance("bench");
  clerk.jwks = { keys: [instance.jwk] };

  const ours = createApp(
    testEnv({
      SUPABASE_URL: double.url,
      SUPABASE_SERVICE_ROLE_KEY: TEST_SERVICE_KEY,
      CLERK_API_URL: clerk.url,
    }),
    { logger: createLogger({ sink: () => {} }) },
  ).handler;

  const clerkClient = createClerkBackendApi({
    apiUrl: clerk.url,
    secretKey: clerk.secretKey,
    timeoutMs: 5_000,
  });
  const store = createSupabaseUsersStore(
    createServiceClient({ url: double.url, serviceKey: TEST_SERVICE_KEY }),
  );
  const bare: Handler = async (req) => {
    const user = await clerkClient.getUser(req.headers.get("x-user-id")!);
    if (!user) return json(404, { error: "user_not_found" });
    return json(200, { outcome: await store.upsert(toUserRow(user)) });
  };

  /** `count` new Clerk users, and a request for each as `side` sends it. */
  const requestsFor = async (side: "ours" | "bare", count: number) => {
    const requests: Request[] = [];
    for (let i = 0; i < count; i++) {
      const user = clerkUser();
      clerk.putUser(user);
      const headers: Record<string, string> = { origin: APP_ORIGIN };
      if (side === "ours") {
        const token = await mintSessionToken(instance, { sub: user.id, expiresIn: 900 });
        headers.authorization = `Bearer ${token}`;
      } else {
        headers["x-user-id"] = user.id;
      }
      requests.push(new Request(ROUTE_URL, { method: "POST", headers }));
    }
    return requests;
  };

  const sides: [string, "ours" | "bare", Handler][] = [
    ["route", "ours", ours],
    ["bare", "bare", bare],
  ];
  const p50 = new Map<string, number[]>(sides.map(([name]) => [name, []]));
  const p99 = new Map<string, number[]>(sides.map(([name]) => [name, []]));
  try {
    for (const [, side, handler] of sides) {
      await drive(handler, await requestsFor(side, options.warmup), options.concurrency);
    }
    for (let round = 1; round <= options.rounds; round++) {
      for (const [name, side, handler] of round % 2 ? sides : [...sides].reverse()) {
        const requests = await requestsFor(side, options.requests);
        const latencies = await drive(handler, requests, options.concurrency);
        p50.get(name)!.push(percentile(latencies, 0.5));
        p99.get(name)!.push(percentile(latencies, 0.99));
        options.progress(
          `me/sync round ${round} ${name}: p50 ${num(2)(percentile(latencies, 0.5))} ms, ` +
            `p99 ${num(2)(percentile(latencies, 0.99))} ms`,
        );
      }
    }
  } finally {
    await clerk.close();
    await double.close();
    await sql.end();
  }
  const figure = `(${options.concurrency} concurrent, new user each, JWKS cached)`;
  return [
    compare(
      `6. On-demand sync latency p50, ms ${figure}`,
      median(p50.get("route")!),
      median(p50.get("bare")!),
      num(2),
      { on: "ratio", op: "<=", value: 1.5 },
      "bare fetch + upsert",
    ),
    compare(
      `6. On-demand sync latency p99, ms ${figure}`,
      median(p99.get("route")!),
      median(p99.get("bare")!),
      num(2),
      undefined,
      "bare fetch + upsert",
    ),
  ];
}

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
