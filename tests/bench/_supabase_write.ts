/**
 * Benchmark 4, information only: the rate of the sync-user-from-clerk
 * workflow's write (the users store's `upsert`, supabase-js `rpc()`) through
 * the PostgREST test double, against calling the same SQL function directly.
 * The double runs in this process, so the figure includes its cost.
 */
import postgres from "postgres";
import { createServiceClient } from "../../functions/database/supabase_client.ts";
import { createSupabaseUsersStore } from "../../functions/users/supabase_users_store.ts";
import type { UserRow } from "../../functions/users/user_row.ts";
import { testDatabase } from "../support/database.ts";
import { TEST_SERVICE_KEY } from "../support/env.ts";
import { startPostgrestDouble } from "../support/postgrest_double.ts";
import { median } from "./_load.ts";
import { compare, num, type Row } from "./_report.ts";

/** Options of the supabase-js write benchmark. */
export interface SupabaseWriteOptions {
  readonly users: number;
  readonly rounds: number;
  readonly connections: number;
  readonly progress: (line: string) => void;
}

const BASE_TIME = Date.UTC(2026, 0, 1);

const userRow = (user: number, version: number): UserRow => ({
  id: `user_sbjs_${String(user).padStart(6, "0")}`,
  email: `user${user}.v${version}@example.org`,
  first_name: `First${version}`,
  last_name: `Last${user}`,
  username: `user${user}`,
  image_url: `https://img.example.org/${user}/${version}`,
  clerk_created_at: new Date(BASE_TIME).toISOString(),
  clerk_updated_at: new Date(BASE_TIME + version * 1000).toISOString(),
});

/** Runs the supabase-js write figure and returns its row. */
export async function supabaseWriteRows(options: SupabaseWriteOptions): Promise<Row[]> {
  const rows: UserRow[] = [];
  for (let version = 0; version <= 3; version++) {
    for (let user = 0; user < options.users; user++) rows.push(userRow(user, version));
  }
  // A fixed interleaving (stride through the list), the same for both ways.
  const order = rows.map((_, i) => rows[(i * 7919) % rows.length]);

  const db = await testDatabase();
  const sql = postgres(db.url, { max: options.connections, onnotice: () => {} });
  const double = startPostgrestDouble({ sql, serviceKey: TEST_SERVICE_KEY });
  const store = createSupabaseUsersStore(
    createServiceClient({ url: double.url, serviceKey: TEST_SERVICE_KEY }),
  );
  const ways: [string, (row: UserRow) => Promise<unknown>][] = [
    ["supabase-js", (row) => store.upsert(row)],
    [
      "direct SQL",
      (row) =>
        sql`select public.upsert_user_from_clerk(${row.id}, ${row.email}, ${row.first_name},
        ${row.last_name}, ${row.username}, ${row.image_url}, ${row.clerk_created_at},
        ${row.clerk_updated_at}) as outcome`,
    ],
  ];
  const rates = new Map<string, number[]>(ways.map(([name]) => [name, []]));
  try {
    for (let round = 1; round <= options.rounds; round++) {
      for (const [name, write] of round % 2 ? ways : [...ways].reverse()) {
        await sql`truncate public.users`;
        double.calls.length = 0;
        const started = performance.now();
        let next = 0;
        const deadline = started + 60_000;
        await Promise.all(Array.from({ length: options.connections }, async () => {
          while (next < order.length) {
            if (performance.now() > deadline) throw new Error("Cannot finish in 60 s");
            await write(order[next++]);
          }
        }));
        const rate = options.users / ((performance.now() - started) / 1000);
        rates.get(name)!.push(rate);
        options.progress(`supabase-js write round ${round} ${name}: ${num()(rate)} users/s`);
      }
    }
  } finally {
    await double.close();
    await sql.end();
  }
  return [
    compare(
      `4. Sync-user write through supabase-js + PostgREST double, users/s ` +
        `(${num()(options.users)} users x 4 writes)`,
      median(rates.get("supabase-js")!),
      median(rates.get("direct SQL")!),
      num(),
      undefined,
      "SQL function called directly",
    ),
  ];
}
