import assert from "node:assert/strict";
import { connect, testDatabase } from "./support/database.ts";
import { start } from "./support/process.ts";

const embedded = !Deno.env.get("TEST_DATABASE_URL") && Deno.env.get("TEST_SUPABASE_STACK") !== "1";

Deno.test({
  name: "the embedded database is migrated and serves one pool at a time",
  ignore: !embedded,
  async fn(t) {
    const db = await testDatabase();
    assert.equal(db.embedded, true);

    await t.step("the migrations ran through the Supabase CLI", async () => {
      const sql = await connect();
      try {
        const [{ count }] = await sql<{ count: number }[]>`
          select count(*)::int as count from supabase_migrations.schema_migrations`;
        const files = [...Deno.readDirSync(new URL("../supabase/migrations/", import.meta.url))]
          .filter((entry) => entry.name.endsWith(".sql"));
        assert.equal(count, files.length);
      } finally {
        await sql.end();
      }
    });

    await t.step("concurrent queries on one pool all get answers", async () => {
      const sql = await connect();
      try {
        const answers = await Promise.all(
          Array.from({ length: 8 }, (_, i) => sql<{ n: number }[]>`select ${i}::int as n`),
        );
        assert.deepEqual(answers.map(([row]) => row.n), [0, 1, 2, 3, 4, 5, 6, 7]);
      } finally {
        await sql.end();
      }
    });

    await t.step(
      "a second pool while one is open is refused with a message saying why",
      async () => {
        const sql = await connect();
        try {
          await sql`select 1`;
          await assert.rejects(connect(), /PGlite serves one connection at a time/);
        } finally {
          await sql.end();
        }
        const again = await connect();
        try {
          assert.deepEqual([...await again`select 1 as one`], [{ one: 1 }]);
        } finally {
          await again.end();
        }
      },
    );
  },
});

Deno.test("an unreachable TEST_DATABASE_URL stops deno task test early with one message", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  const child = start(
    Deno.execPath(),
    ["run", "-A", "--quiet", new URL("./support/preflight.ts", import.meta.url).pathname],
    {
      PATH: Deno.env.get("PATH") ?? "",
      HOME: Deno.env.get("HOME") ?? "",
      TEST_DATABASE_URL: `postgresql://postgres:hunter2@127.0.0.1:${port}/postgres`,
    },
  );
  // Bounded: a preflight that hangs is killed, and then fails the exit code check.
  const timer = setTimeout(() => child.stop("SIGKILL"), 30_000);
  try {
    const status = await child.status;
    assert.equal(status.code, 1, child.output());
    const lines = child.output().trim().split("\n");
    assert.equal(lines.length, 1, child.output());
    assert.match(lines[0], new RegExp(`^Cannot reach the test database server .*:${port}/`));
    assert.ok(!lines[0].includes("hunter2"), "the password is not shown");
  } finally {
    clearTimeout(timer);
  }
});
