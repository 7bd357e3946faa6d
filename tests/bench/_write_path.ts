/**
 * Benchmark 4: users per second through the project's SQL write functions,
 * called directly in Postgres, against a plain INSERT ... ON CONFLICT DO
 * UPDATE on the same table, with the same statements per user, one
 * statement per call and the same small pool.
 *
 * Workload: 10,000 users, each created once and updated three times, all
 * 40,000 writes in one seeded random order (so some updates arrive before
 * the create, as Clerk deliveries can). Then, for information, every user is
 * deleted in random order.
 */
import postgres from "postgres";
import { testDatabase } from "../support/database.ts";
import { median } from "./_load.ts";
import { compare, num, type Row } from "./_report.ts";

/** How the write-path benchmark runs. */
export interface WritePathOptions {
  readonly users: number;
  readonly updatesPerUser: number;
  readonly rounds: number;
  /** Concurrent callers, and connections in the pool. */
  readonly connections: number;
  /** A round that takes longer than this fails the run. */
  readonly roundTimeoutMs: number;
  readonly progress: (line: string) => void;
}

interface Write {
  readonly user: number;
  readonly version: number;
}

type Sql = postgres.Sql;

/** One way of writing: the project's functions, or the plain baseline. */
interface Writer {
  readonly name: string;
  upsert(sql: Sql, user: number, version: number): Promise<unknown>;
  delete(sql: Sql, user: number): Promise<unknown>;
}

const BASE_TIME = Date.UTC(2026, 0, 1);
const createdAt = new Date(BASE_TIME);
const deletedAt = new Date(BASE_TIME + 86_400_000);

const userId = (user: number) => `user_bench_${String(user).padStart(6, "0")}`;
const row = (user: number, version: number) => ({
  id: userId(user),
  email: `user${user}.v${version}@example.org`,
  firstName: `First${version}`,
  lastName: `Last${user}`,
  username: `user${user}`,
  imageUrl: `https://img.example.org/${user}/${version}`,
  updatedAt: new Date(BASE_TIME + version * 1000),
});

const ours: Writer = {
  name: "SQL functions",
  upsert: (sql, user, version) => {
    const r = row(user, version);
    return sql`select public.upsert_user_from_clerk(
      ${r.id}, ${r.email}, ${r.firstName}, ${r.lastName}, ${r.username}, ${r.imageUrl},
      ${createdAt}, ${r.updatedAt}) as outcome`;
  },
  delete: (sql, user) =>
    sql`select public.delete_user_from_clerk(${userId(user)}, ${deletedAt}) as outcome`,
};

const plain: Writer = {
  name: "plain upsert",
  upsert: (sql, user, version) => {
    const r = row(user, version);
    return sql`insert into public.users (
        id, email, first_name, last_name, username, image_url, clerk_created_at, clerk_updated_at
      ) values (
        ${r.id}, ${r.email}, ${r.firstName}, ${r.lastName}, ${r.username}, ${r.imageUrl},
        ${createdAt}, ${r.updatedAt}
      )
      on conflict (id) do update set
        email = excluded.email,
        first_name = excluded.first_name,
        last_name = excluded.last_name,
        username = excluded.username,
        image_url = excluded.image_url,
        clerk_updated_at = excluded.clerk_updated_at,
        updated_at = now()`;
  },
  delete: (sql, user) =>
    sql`insert into public.users (id, deleted_at) values (${userId(user)}, ${deletedAt})
      on conflict (id) do update set
        email = null, first_name = null, last_name = null, username = null, image_url = null,
        deleted_at = excluded.deleted_at,
        updated_at = now()`,
};

/** Runs benchmark 4 (direct SQL) and returns its rows. */
export async function writePathBenchmark(options: WritePathOptions): Promise<Row[]> {
  const random = mulberry32(20261129);
  const writes = shuffle(
    Array.from(
      { length: options.users * (options.updatesPerUser + 1) },
      (_, i): Write => ({
        user: i % options.users,
        version: Math.floor(i / options.users),
      }),
    ),
    random,
  );
  const deletes = shuffle(Array.from({ length: options.users }, (_, i) => i), random);

  const db = await testDatabase();
  const sql = postgres(db.url, { max: options.connections, onnotice: () => {} });
  try {
    const upsertRates = new Map<Writer, number[]>([[ours, []], [plain, []]]);
    const deleteRates = new Map<Writer, number[]>([[ours, []], [plain, []]]);
    // Warm both statement paths (plans, caches) before timing anything.
    for (const writer of [ours, plain]) {
      await sql`truncate public.users`;
      await inParallel(
        options,
        writes.slice(0, 2000),
        (w) => writer.upsert(sql, w.user, w.version),
      );
    }
    for (let round = 1; round <= options.rounds; round++) {
      const order = round % 2 ? [ours, plain] : [plain, ours];
      for (const writer of order) {
        await sql`truncate public.users`;
        await sql`checkpoint`;
        const upsertSeconds = await inParallel(
          options,
          writes,
          (w) => writer.upsert(sql, w.user, w.version),
        );
        if (writer === ours) await checkNewestWins(sql, options);
        const deleteSeconds = await inParallel(options, deletes, (u) => writer.delete(sql, u));
        upsertRates.get(writer)!.push(options.users / upsertSeconds);
        deleteRates.get(writer)!.push(options.users / deleteSeconds);
        options.progress(
          `write path round ${round} ${writer.name}: ` +
            `${num()(options.users / upsertSeconds)} users/s upserted ` +
            `(${writes.length} writes in ${upsertSeconds.toFixed(2)} s), ` +
            `${num()(options.users / deleteSeconds)} users/s deleted`,
        );
      }
    }
    const rate = (rates: Map<Writer, number[]>, writer: Writer) => median(rates.get(writer)!);
    const workload = `${num()(options.users)} users x ${options.updatesPerUser + 1} writes`;
    return [
      compare(
        `4. Write path, users/s (${workload}, ${options.connections} connections)`,
        rate(upsertRates, ours),
        rate(upsertRates, plain),
        num(),
        { on: "ratio", op: ">=", value: 0.7 },
        "plain INSERT ... ON CONFLICT",
      ),
      compare(
        `4. Delete path, users/s (${num()(options.users)} users)`,
        rate(deleteRates, ours),
        rate(deleteRates, plain),
        num(),
        undefined,
        "plain INSERT ... ON CONFLICT",
      ),
    ];
  } finally {
    await sql.end();
  }
}

/** Makes sure the timed work was right: every user ends at its newest version. */
async function checkNewestWins(sql: Sql, options: WritePathOptions): Promise<void> {
  const newest = new Date(BASE_TIME + options.updatesPerUser * 1000);
  const [{ count, newest: atNewest }] = await sql<{ count: number; newest: number }[]>`
    select count(*)::int as count,
           count(*) filter (where clerk_updated_at = ${newest})::int as newest
      from public.users`;
  if (count !== options.users || atNewest !== options.users) {
    throw new Error(
      `Cannot trust the write path figures: ${count} rows, ${atNewest} at the newest version`,
    );
  }
}

/** Runs `work` over `items` with `connections` callers; returns seconds taken. */
async function inParallel<T>(
  options: WritePathOptions,
  items: readonly T[],
  work: (item: T) => Promise<unknown>,
): Promise<number> {
  const started = performance.now();
  const deadline = started + options.roundTimeoutMs;
  let next = 0;
  const caller = async () => {
    while (next < items.length) {
      if (performance.now() > deadline) {
        throw new Error(`Cannot finish a write path round in ${options.roundTimeoutMs} ms`);
      }
      await work(items[next++]);
    }
  };
  await Promise.all(Array.from({ length: options.connections }, caller));
  return (performance.now() - started) / 1000;
}

/** A small seeded random number generator, so every run has the same order. */
function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}
