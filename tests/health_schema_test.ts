/**
 * `/health` knows the schema: a database that answers but lacks a migration
 * this code needs is not ready, and the details name the migration and how
 * to apply it. Run on a database of its own, migrated with the Supabase CLI
 * to all but the newest file, and on the run's fully migrated database.
 */
import assert from "node:assert/strict";
import { MIGRATIONS } from "../functions/database/migrations.ts";
import type { SupabaseClient } from "@supabase/supabase-js";
import { missingMigrations, SCHEMA_CHECK_MIGRATION } from "../functions/database/schema_check.ts";
import { createServiceClient } from "../functions/database/supabase_client.ts";
import { SUPABASE_CLI } from "../functions/health/local_tools.ts";
import type { Env } from "../functions/settings.ts";
import { appAt } from "./support/app.ts";
import { createTestDatabase } from "./support/database.ts";
import { healthDetailsRequest, TEST_SERVICE_KEY } from "./support/env.ts";
import { type Postgrest, withPostgrest } from "./support/postgrest.ts";
import { startPostgrestDouble } from "./support/postgrest_double.ts";

const onStack = Deno.env.get("TEST_SUPABASE_STACK") === "1";
const NEWEST = MIGRATIONS.at(-1)!;

async function health(postgrest: Pick<Postgrest, "url" | "serviceKey">, env: Env = {}) {
  const app = appAt(postgrest, env);
  const res = await app.handler(healthDetailsRequest());
  return { status: res.status, body: await res.json() };
}

Deno.test({
  name: "health is 503 on a database that lacks the newest migration, and names it",
  ignore: onStack,
  async fn(t) {
    const db = await createTestDatabase({ stopBefore: NEWEST });
    const sql = await db.connect();
    const double = startPostgrestDouble({ sql, serviceKey: TEST_SERVICE_KEY });
    const postgrest = { url: double.url, serviceKey: TEST_SERVICE_KEY };
    try {
      await t.step("the database was migrated to all but the newest file", async () => {
        const [{ count }] = await sql<{ count: number }[]>`
          select count(*)::int as count from supabase_migrations.schema_migrations`;
        assert.equal(count, MIGRATIONS.length - 1);
      });

      await t.step("the details name the missing migration and how to apply it", async () => {
        const { status, body } = await health(postgrest);
        assert.equal(status, 503);
        assert.equal(body.status, "unavailable");
        assert.equal(body.database, "reachable", "the database answers");
        assert.deepEqual(body.missing_migrations, [NEWEST]);
        assert.deepEqual(body.problems, [
          `Database: migration ${NEWEST} is not applied: ` +
          `run npx --yes ${SUPABASE_CLI} db push against this project`,
        ]);
      });

      await t.step("in dev mode the hint names the local stack's command too", async () => {
        const { body } = await health(postgrest, { INNGEST_DEV: "1" });
        const problem = body.problems.find((p: string) => p.startsWith("Database"));
        assert.match(problem, new RegExp(`^Database: migration ${NEWEST} is not applied`));
        assert.ok(problem.includes(`npx --yes ${SUPABASE_CLI} migration up --local`), problem);
      });

      await t.step("the public answer stays the status alone", async () => {
        const app = appAt(postgrest);
        const res = await app.handler(new Request("http://localhost/clerk-events/health"));
        assert.equal(res.status, 503);
        assert.deepEqual(await res.json(), { status: "unavailable" });
      });
    } finally {
      await double.close();
      await sql.end();
      await db.close();
    }
  },
});

Deno.test("health is 200 on a fully migrated database, with no missing migration", async () => {
  await withPostgrest(async (_sql, postgrest) => {
    const { status, body } = await health(postgrest);
    assert.equal(status, 200, JSON.stringify(body.problems));
    assert.equal(body.database, "reachable");
    assert.deepEqual(body.missing_migrations, []);
  });
});

Deno.test("the schema check names each migration the code needs and the database lacks", async () => {
  await withPostgrest(async (_sql, postgrest) => {
    const client = createServiceClient({
      url: postgrest.url,
      serviceKey: postgrest.serviceKey,
    });
    assert.deepEqual(await missingMigrations(client, MIGRATIONS), []);
    const later = ["20991231000000_later", "20991231000001_later_still"];
    assert.deepEqual(await missingMigrations(client, [...MIGRATIONS, ...later]), later);
  });
});

Deno.test("a database from before the schema check lacks that migration and every later one", async () => {
  // PostgREST answers 404 PGRST202 for a function it does not know.
  const client = {
    rpc: () =>
      Promise.resolve({
        data: null,
        error: { code: "PGRST202", message: "Could not find the function" },
      }),
  } as unknown as SupabaseClient;
  const needed = ["20261202090000_schema_version", SCHEMA_CHECK_MIGRATION, "20991231000000_later"];
  assert.deepEqual(await missingMigrations(client, needed), needed.slice(1));
});
