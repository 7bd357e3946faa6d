/**
 * Benchmark 9: Clerk Billing rows written per second through
 * `public.apply_billing_from_clerk` (newest `updated_at` wins, equal
 * versions merge), against a plain INSERT ... ON CONFLICT DO UPDATE of the
 * same rows (last write wins), on PostgreSQL with the same small pool.
 *
 * Workload: `items` subscription items, each written at four versions
 * (created, active, past due, canceled: what their events carry), all in
 * one seeded random order, so that most items see an older version after a
 * newer one, as Clerk deliveries can arrive. Two shapes:
 *
 * - one row per call, as a `subscriptionItem.*` event writes it;
 * - pages of 500 rows per call, as the reconcile applies a listing.
 *
 * Ours is checked after each timed round: every item at its newest version.
 */
import postgres from "postgres";
import { testDatabase } from "../support/database.ts";
import { random } from "../support/workload.ts";
import { compare, num, type Row } from "./_report.ts";

/** How benchmark 9 runs. */
export interface ClerkBillingBenchOptions {
  readonly items: number;
  readonly rounds: number;
  /** Concurrent callers, and connections in the pool. */
  readonly connections: number;
  readonly progress: (line: string) => void;
}

type Sql = postgres.Sql;

const VERSIONS = ["incomplete", "active", "past_due", "canceled"] as const;
const BASE = Date.UTC(2026, 0, 1);
const PAGE = 500;

/** The item row of `item` at `version` (0 to 3). */
function itemRow(item: number, version: number) {
  const user = `user_bench_${String(item % 5_000).padStart(6, "0")}`;
  return {
    id: `csub_item_bench_${String(item).padStart(7, "0")}`,
    payer_user_id: user,
    payer_organization_id: null,
    plan_id: "cplan_pro",
    plan_slug: "pro",
    plan_period: "month",
    status: VERSIONS[version],
    is_free_trial: false,
    period_start: new Date(BASE).toISOString(),
    period_end: new Date(BASE + 30 * 86_400_000).toISOString(),
    canceled_at: version === 3 ? new Date(BASE + 3_000).toISOString() : null,
    clerk_updated_at: new Date(BASE + version * 1_000).toISOString(),
  };
}

type ItemRow = ReturnType<typeof itemRow>;

/** One way of writing a batch of item rows. */
interface Writer {
  readonly name: string;
  write(sql: Sql, rows: ItemRow[]): Promise<unknown>;
}

const ours: Writer = {
  name: "apply_billing_from_clerk",
  write: (sql, rows) =>
    sql`select public.apply_billing_from_clerk('[]'::jsonb, ${sql.json(rows)}, '[]'::jsonb)`,
};

const plain: Writer = {
  name: "plain upsert",
  write: (sql, rows) =>
    sql`insert into public.billing_subscription_items as t (
          id, payer_user_id, payer_organization_id, plan_id, plan_slug, plan_period, status,
          is_free_trial, period_start, period_end, canceled_at, clerk_updated_at)
        -- A page may hold one item twice: ON CONFLICT cannot touch a row twice.
        select distinct on (r.id) r.id, r.payer_user_id, r.payer_organization_id, r.plan_id, r.plan_slug,
               r.plan_period, r.status, r.is_free_trial, r.period_start, r.period_end,
               r.canceled_at, r.clerk_updated_at
          from jsonb_to_recordset(${sql.json(rows)}) as r(
            id text, payer_user_id text, payer_organization_id text, plan_id text,
            plan_slug text, plan_period text, status text, is_free_trial boolean,
            period_start timestamptz, period_end timestamptz, canceled_at timestamptz,
            clerk_updated_at timestamptz)
         order by r.id
        on conflict (id) do update set
          payer_user_id = excluded.payer_user_id,
          payer_organization_id = excluded.payer_organization_id,
          plan_id = excluded.plan_id,
          plan_slug = excluded.plan_slug,
          plan_period = excluded.plan_period,
          status = excluded.status,
          is_free_trial = excluded.is_free_trial,
          period_start = excluded.period_start,
          period_end = excluded.period_end,
          canceled_at = excluded.canceled_at,
          clerk_updated_at = excluded.clerk_updated_at,
          updated_at = now()`,
};

/** Runs benchmark 9 and returns its rows. */
export async function clerkBillingBenchmark(options: ClerkBillingBenchOptions): Promise<Row[]> {
  const next = random(20261203);
  const writes = Array.from(
    { length: options.items * VERSIONS.length },
    (_, i) => itemRow(i % options.items, Math.floor(i / options.items)),
  );
  for (let i = writes.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [writes[i], writes[j]] = [writes[j], writes[i]];
  }
  const pages = Array.from(
    { length: Math.ceil(writes.length / PAGE) },
    (_, i) => writes.slice(i * PAGE, (i + 1) * PAGE),
  );

  const db = await testDatabase();
  const sql = postgres(db.url, { max: options.connections, onnotice: () => {} });
  try {
    const rates = new Map<string, number[]>();
    const run = async (writer: Writer, shape: "event" | "page") => {
      await sql`truncate public.billing_subscription_items`;
      const batches = shape === "event" ? writes.map((row) => [row]) : pages;
      const started = performance.now();
      let n = 0;
      await Promise.all(Array.from({ length: options.connections }, async () => {
        while (n < batches.length) await writer.write(sql, batches[n++]);
      }));
      const perSecond = writes.length / ((performance.now() - started) / 1000);
      if (writer === ours) await checkNewestWins(sql, options.items);
      const key = `${writer.name} ${shape}`;
      rates.set(key, [...rates.get(key) ?? [], perSecond]);
      return perSecond;
    };
    // Warm both statement paths before timing anything.
    for (const writer of [ours, plain]) await run(writer, "page");
    rates.clear();
    for (let round = 1; round <= options.rounds; round++) {
      for (const shape of ["event", "page"] as const) {
        for (const writer of round % 2 ? [ours, plain] : [plain, ours]) {
          const perSecond = await run(writer, shape);
          options.progress(
            `clerk billing round ${round} ${writer.name}, one ${shape} per call: ` +
              `${num()(perSecond)} rows/s`,
          );
        }
      }
    }
    const workload = `${num()(options.items)} items x ${VERSIONS.length} versions, shuffled`;
    return (["event", "page"] as const).map((shape) =>
      compare(
        `9. Clerk Billing rows/s, ${shape === "event" ? "one row per call" : `${PAGE} per call`} ` +
          `(${workload}, ${options.connections} connections)`,
        rates.get(`${ours.name} ${shape}`)!,
        rates.get(`${plain.name} ${shape}`)!,
        num(),
        undefined,
        "plain INSERT ... ON CONFLICT, last write wins",
      )
    );
  } finally {
    await sql.end();
  }
}

/** Makes sure the timed work was right: every item ends at its newest version. */
async function checkNewestWins(sql: Sql, items: number): Promise<void> {
  const [{ count, newest }] = await sql<{ count: number; newest: number }[]>`
    select count(*)::int as count,
           count(*) filter (where status = 'canceled' and canceled_at is not null)::int as newest
      from public.billing_subscription_items`;
  if (count !== items || newest !== items) {
    throw new Error(
      `Cannot trust the billing figures: ${count} rows, ${newest} at the newest version`,
    );
  }
}
