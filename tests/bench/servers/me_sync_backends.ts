/**
 * What the on-demand sync talks to, in a process of its own so that its CPU
 * does not count in the latency measured in the benchmark's process: the
 * PostgREST double over the test database, and the Backend API stand-in
 * serving `BENCH_JWKS` and `BENCH_USERS` users named `user_mesync_<n>`.
 * Arguments: the port, where `GET /urls` answers both servers' URLs, and
 * `PUT /clerk-delay/<ms>` makes the stand-in answer every request that late.
 * Environment: `BENCH_DATABASE_URL`, `BENCH_JWKS`, `BENCH_USERS`.
 */
import postgres from "postgres";
import { clerkUser, startClerkApi } from "../../support/clerk_api.ts";
import { TEST_SERVICE_KEY } from "../../support/env.ts";
import { startPostgrestDouble } from "../../support/postgrest_double.ts";

const sql = postgres(Deno.env.get("BENCH_DATABASE_URL")!, { max: 8, onnotice: () => {} });
const double = startPostgrestDouble({ sql, serviceKey: TEST_SERVICE_KEY });
const clerk = startClerkApi();
clerk.rateLimit = undefined;
clerk.jwks = JSON.parse(Deno.env.get("BENCH_JWKS")!);
const users = Number(Deno.env.get("BENCH_USERS"));
for (let n = 0; n < users; n++) clerk.putUser(clerkUser({ id: `user_mesync_${n}` }));

Deno.serve(
  { hostname: "127.0.0.1", port: Number(Deno.args[0]), onListen: () => {} },
  (req) => {
    const delay = /^\/clerk-delay\/(\d+)$/.exec(new URL(req.url).pathname);
    if (req.method === "PUT" && delay) {
      const ms = Number(delay[1]);
      clerk.onRequest = () => new Promise((resolve) => setTimeout(resolve, ms));
      return new Response(null, { status: 204 });
    }
    return Response.json({ postgrest: double.url, clerk: clerk.url, secretKey: clerk.secretKey });
  },
);
