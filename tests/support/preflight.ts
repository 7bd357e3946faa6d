/**
 * Runs before `deno task test`: when `TEST_DATABASE_URL` names a server, checks
 * once that it answers, so that an unreachable server stops the run early with
 * one message instead of failing every suite that needs it. Without it, the
 * tests use the embedded database and there is nothing to check.
 *
 * It also installs Deno 2.1.4, the runtime hosted Supabase runs, when it is
 * missing (`tests/production_runtime_test.ts` runs the built artifact on it),
 * so that a fresh machine says so once, up front.
 */
import postgres from "postgres";
import { CONNECT_TIMEOUT_S, redact } from "./database.ts";
import { ensureProductionDeno } from "../../scripts/production_deno.ts";

try {
  await ensureProductionDeno((line) => console.error(line));
} catch (error) {
  console.error(
    `${error instanceof Error ? error.message : String(error)}. ` +
      "The tests run the deployed artifact on it; see docs/testing.md",
  );
  Deno.exit(1);
}

const url = Deno.env.get("TEST_DATABASE_URL");
if (url) {
  const sql = postgres(url, { max: 1, connect_timeout: CONNECT_TIMEOUT_S, onnotice: () => {} });
  try {
    await sql`select 1`;
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    console.error(
      `Cannot reach the test database server ${redact(url)}: ${detail}. ` +
        "Start it, or unset TEST_DATABASE_URL to run the tests on the embedded database",
    );
    Deno.exit(1);
  } finally {
    await sql.end({ timeout: 1 });
  }
}
