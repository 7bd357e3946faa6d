/**
 * Benchmark 6: `reconcile-users-with-clerk` against a plain script.
 *
 * The Clerk Backend API stand-in (tests/support/clerk_api.ts) serves N users
 * shaped like real ones. "Ours" is the app in its own process (as `deno task
 * dev` runs it), driven through `/inngest` step by step as Inngest Cloud
 * would, writing through supabase-js and the PostgREST double. The baseline
 * pages the same stand-in and writes each page with one plain
 * `INSERT ... ON CONFLICT` (the same newest-wins condition) over a direct
 * connection, and does nothing else.
 *
 * Runs: fill an empty table; then, after 1% of the users changed in Clerk
 * and 0.1% were deleted, again (ours also confirms and erases the deleted
 * users; the baseline cannot). Peak memory (VmHWM) of ours is read from a
 * fresh process per size, so that it shows whether it grows with users.
 * Finally, for the last size, a rerun at a development instance's rate
 * limit (100 requests per 10 s, enforced by the stand-in) with the default
 * budget, to give the real duration.
 */
import postgres from "postgres";
import { toUserRow } from "../../functions/users/user_row.ts";
import type { ClerkUser } from "../../functions/clerk/schemas.ts";
import { RECONCILE_FUNCTION_ID } from "../../functions/reconcile/reconcile_function.ts";
import { DEFAULT_REQUEST_BUDGET } from "../../functions/settings/clerk_api.ts";
import {
  type ClerkApi,
  clerkUser,
  startClerkApi,
  TEST_CLERK_SECRET_KEY,
} from "../support/clerk_api.ts";
import { testDatabase } from "../support/database.ts";
import { TEST_SERVICE_KEY, TEST_SIGNING_KEY, testEnv } from "../support/env.ts";
import { driveRun } from "../support/inngest_cloud.ts";
import { startPostgrestDouble } from "../support/postgrest_double.ts";
import { type Server, spawnServer, waitUntilAnswering } from "./_process.ts";
import { median } from "./_load.ts";
import { compare, num, type Row } from "./_report.ts";

/** How the reconcile benchmark runs. */
export interface ReconcileBenchOptions {
  /** Sizes, ascending; throughput is compared at the last one. */
  readonly sizes: readonly number[];
  /** Also rerun the last size at a development instance's rate limit. */
  readonly atDevLimit: boolean;
  /** Rounds of each way at the last size; the median counts. */
  readonly rounds: number;
  readonly progress: (line: string) => void;
}

const PAGE = 500;
const BASE_TIME = Date.UTC(2025, 0, 1);

interface Timed {
  readonly seconds: number;
  readonly listed: number;
  readonly requests: number;
  /** Requests the stand-in answered 429. */
  readonly limited: number;
}

/** Runs the benchmark and returns its rows. */
export async function reconcileBenchmark(options: ReconcileBenchOptions): Promise<Row[]> {
  const db = await testDatabase();
  const sql = postgres(db.url, { max: 4, onnotice: () => {} });
  const double = startPostgrestDouble({ sql, serviceKey: TEST_SERVICE_KEY });
  const clerk = startClerkApi({ rateLimit: undefined });
  clerk.rateLimit = undefined;
  // Keep the double's call log from growing with the run.
  double.failCall = () => {
    double.calls.length = 0;
    return false;
  };
  const rows: Row[] = [];
  const peaks = new Map<number, number>();
  const ours = async (budget = "10000/1s") => {
    const server = await startOurs(clerk, double.url, budget);
    try {
      const run = await timed(clerk, () => oursRun(server));
      return { ...run, peakMb: await server.peakRssMb() };
    } finally {
      await server.stop();
    }
  };
  const plain = () => timed(clerk, () => plainRun(sql, clerk.url));
  const empty = () => sql`truncate public.users, public.clerk_sync_runs cascade`;
  const restore = async () => {
    await sql`truncate public.users, public.clerk_sync_runs cascade`;
    await sql`insert into public.users select * from bench_users_snapshot`;
  };
  try {
    let size = 0;
    for (const target of options.sizes) {
      for (; size < target; size++) {
        clerk.putUser(
          clerkUser({ id: `user_rb${String(size).padStart(7, "0")}`, createdAt: BASE_TIME + size }),
        );
      }
      const n = num()(target);
      if (target !== options.sizes.at(-1)) {
        await empty();
        const run = await ours();
        peaks.set(target, run.peakMb);
        options.progress(`reconcile ${n} users: peak ${num(1)(run.peakMb)} MB`);
        continue;
      }

      // Fill an empty table, alternating which way goes first.
      const fill = { ours: [] as number[], plain: [] as number[] };
      let fillRequests = { ours: 0, plain: 0 };
      for (let round = 0; round < options.rounds; round++) {
        for (const way of round % 2 ? ["plain", "ours"] as const : ["ours", "plain"] as const) {
          await empty();
          const run = way === "ours" ? await ours() : await plain();
          if ("peakMb" in run && !peaks.has(target)) peaks.set(target, run.peakMb as number);
          fill[way].push(target / run.seconds);
          fillRequests = { ...fillRequests, [way]: run.requests };
          options.progress(
            `reconcile fill ${n} users, ${way}: ${num()(target / run.seconds)} users/s`,
          );
        }
      }

      // Then 1% changed and 0.1% deleted in Clerk, spread evenly.
      await sql`drop table if exists bench_users_snapshot`;
      await sql`create table bench_users_snapshot as select * from public.users`;
      const ids = [...clerk.users()].map((u) => u.id).sort();
      ids.forEach((id, i) => {
        if (i % 100 === 7) clerk.updateUser(id, { first_name: "Changed" });
        if (i % 1000 === 3) clerk.deleteUser(id);
      });
      const rerun = { ours: [] as number[], plain: [] as number[] };
      let rerunRequests = { ours: 0, plain: 0 };
      let outcome = "";
      for (let round = 0; round < options.rounds; round++) {
        for (const way of round % 2 ? ["plain", "ours"] as const : ["ours", "plain"] as const) {
          await restore();
          const run = way === "ours" ? await ours() : await plain();
          rerun[way].push(run.listed / run.seconds);
          rerunRequests = { ...rerunRequests, [way]: run.requests };
          if (way === "ours") {
            const [r] = await sql`
              select updated, tombstoned from public.clerk_sync_runs order by started_at desc limit 1`;
            outcome = `${r.updated} updated, ${r.tombstoned} erased`;
          }
          options.progress(
            `reconcile rerun ${n} users, ${way}: ${num()(run.listed / run.seconds)} users/s`,
          );
        }
      }
      const baseline = "plain page + INSERT ... ON CONFLICT";
      rows.push(
        compare(
          `6. Reconcile into an empty table, users/s (${n} users)`,
          median(fill.ours),
          median(fill.plain),
          num(),
          { on: "ratio", op: ">=", value: 0.5 },
          baseline,
        ),
        compare(
          `6. Reconcile again, 1% changed and 0.1% deleted, users/s (${n} users; ours: ${outcome})`,
          median(rerun.ours),
          median(rerun.plain),
          num(),
          { on: "ratio", op: ">=", value: 0.5 },
          baseline,
        ),
        {
          figure: `6. Clerk requests of a ${n}-user reconcile (fill / rerun)`,
          ours: `${fillRequests.ours} / ${rerunRequests.ours}`,
          baseline: `${fillRequests.plain} / ${rerunRequests.plain} (plain, lists only)`,
          ratio: "n/a",
          target: "information",
        },
      );

      if (options.atDevLimit) {
        // The same rerun against a stand-in that enforces 100 requests per
        // 10 s, with the default budget (50 per 10 s).
        await restore();
        clerk.rateLimit = { limit: 100, windowMs: 10_000 };
        let run;
        try {
          run = await ours(DEFAULT_REQUEST_BUDGET);
        } finally {
          clerk.rateLimit = undefined;
        }
        options.progress(
          `reconcile rerun at the dev-instance limit: ${run.requests} requests, ` +
            `${num(1)(run.seconds)} s, ${run.limited} answered 429`,
        );
        rows.push({
          figure: `6. Reconcile rerun of ${n} users at a development instance's limit, s ` +
            `(default budget 50/10s)`,
          ours: `${num(1)(run.seconds)} (${run.requests} requests, ${run.limited} got 429)`,
          baseline: `${num(1)(run.requests / 10)} (100 requests per 10 s)`,
          ratio: `${(run.seconds / (run.requests / 10)).toFixed(2)}x`,
          target: "information",
        });
      }
      await sql`drop table bench_users_snapshot`;
    }
    const sizes = [...peaks.keys()].sort((a, b) => a - b);
    const [small, large] = [sizes[0], sizes.at(-1)!];
    rows.push(
      compare(
        `6. Peak RSS of the function during a reconcile, MB (VmHWM; ${num()(large)} vs ` +
          `${num()(small)} users)`,
        peaks.get(large)!,
        peaks.get(small)!,
        num(1),
        { on: "ratio", op: "<=", value: 1.25 },
        `${num()(small)} users`,
      ),
    );
  } finally {
    await double.close();
    await clerk.close();
    await sql.end();
  }
  return rows;
}

/** Starts the app in its own process, pointed at the stand-ins. */
async function startOurs(clerk: ClerkApi, supabaseUrl: string, budget: string) {
  const env = testEnv({
    SUPABASE_URL: supabaseUrl,
    CLERK_API_URL: clerk.url,
    CLERK_API_REQUEST_BUDGET: budget,
    CLERK_RECONCILE_CRON: "off",
  });
  const server = spawnServer("ours", {
    env: Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined)) as Record<
      string,
      string
    >,
  });
  // Health loads supabase-js; an unsigned GET of /inngest loads the serve
  // handler. Both are loaded once per process, not once per run.
  await waitUntilAnswering(
    () => fetch(`${server.url}/clerk-events/health`),
    performance.now(),
  );
  await (await fetch(`${server.url}/clerk-events/inngest`)).body?.cancel();
  return server;
}

/** One run of ours, driven through `/inngest` over HTTP. */
async function oursRun(server: Server): Promise<number> {
  const outcome = await driveRun({
    handler: (req) => fetch(req),
    url: `${server.url}/clerk-events/inngest`,
    functionId: RECONCILE_FUNCTION_ID,
    event: {
      id: crypto.randomUUID(),
      name: "clerk-events/reconcile.requested",
      data: {},
      ts: Date.now(),
    },
    signingKey: TEST_SIGNING_KEY,
    maxAttempts: 20,
    maxRequests: 5_000,
    retryDelayMs: () => 1_000,
  });
  const result = outcome.result as { status: string; listed: number };
  if (result.status !== "succeeded") throw new Error(`Reconcile ended ${result.status}`);
  return result.listed;
}

/** The baseline: page the stand-in, one INSERT ... ON CONFLICT per page. */
async function plainRun(sql: postgres.Sql, clerkUrl: string): Promise<number> {
  let listed = 0;
  for (let offset = 0;; offset += PAGE) {
    const res = await fetch(
      `${clerkUrl}/v1/users?limit=${PAGE}&offset=${offset}&order_by=%2Bcreated_at`,
      { headers: { authorization: `Bearer ${TEST_CLERK_SECRET_KEY}` } },
    );
    const users = await res.json() as ClerkUser[];
    listed += users.length;
    if (users.length) {
      await sql`
        insert into public.users as u (
          id, email, first_name, last_name, username, image_url, clerk_created_at, clerk_updated_at)
        select r.id, r.email, r.first_name, r.last_name, r.username, r.image_url,
               r.clerk_created_at, r.clerk_updated_at
          from jsonb_to_recordset(${sql.json(users.map(toUserRow) as never)}) as r(
            id text, email text, first_name text, last_name text, username text,
            image_url text, clerk_created_at timestamptz, clerk_updated_at timestamptz)
        on conflict (id) do update set
          email = excluded.email, first_name = excluded.first_name,
          last_name = excluded.last_name, username = excluded.username,
          image_url = excluded.image_url, clerk_updated_at = excluded.clerk_updated_at,
          updated_at = now()
        where u.clerk_updated_at < excluded.clerk_updated_at`;
    }
    if (users.length < PAGE) return listed;
  }
}

async function timed(clerk: ClerkApi, run: () => Promise<number>): Promise<Timed> {
  const before = clerk.requests.length;
  const started = performance.now();
  const listed = await run();
  const seconds = (performance.now() - started) / 1000;
  const made = clerk.requests.slice(before);
  clerk.requests.length = 0;
  return {
    seconds,
    listed,
    requests: made.length,
    limited: made.filter((r) => r.status === 429).length,
  };
}
