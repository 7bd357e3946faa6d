/**
 * A real PostgreSQL database for the test run.
 *
 * By default each run creates a fresh database on the server named by
 * `TEST_DATABASE_URL` (default: the local cluster `.ci/run` starts), gives it
 * what a Supabase database has (roles, `auth.jwt()`), and applies
 * `supabase/migrations` with the Supabase CLI's own `migration up`, the same
 * code path `supabase db reset` uses.
 *
 * With `TEST_SUPABASE_STACK=1`, `TEST_DATABASE_URL` is taken to be the
 * database of a running `supabase start` stack whose migrations were applied
 * by `supabase db reset`, and it is used as it is.
 */
import postgres from "postgres";
import importMap from "../../import_map.json" with { type: "json" };

/** A database the tests can use, and how to reach it. */
export interface TestDatabase {
  /** Connection URL of the test database. */
  readonly url: string;
  /** Database name, for messages. */
  readonly name: string;
}

const DEFAULT_ADMIN_URL = "postgresql://postgres:postgres@127.0.0.1:5432/postgres";
const PREFIX = "clerk_events_test_";
const repoRoot = new URL("../../", import.meta.url);

let current: Promise<TestDatabase> | undefined;

/** The run's database, created and migrated on first use. */
export function testDatabase(): Promise<TestDatabase> {
  current ??= Deno.env.get("TEST_SUPABASE_STACK") === "1" ? useStack() : createFresh();
  return current;
}

/** Opens a connection pool to the test database. Close it with `sql.end()`. */
export async function connect(): Promise<postgres.Sql> {
  const db = await testDatabase();
  return postgres(db.url, { max: 4, onnotice: () => {} });
}

function adminUrl(): string {
  return Deno.env.get("TEST_DATABASE_URL") ?? DEFAULT_ADMIN_URL;
}

function useStack(): Promise<TestDatabase> {
  const url = adminUrl();
  return Promise.resolve({ url, name: new URL(url).pathname.slice(1) });
}

async function createFresh(): Promise<TestDatabase> {
  const started = performance.now();
  const admin = postgres(adminUrl(), { max: 1, onnotice: () => {} });
  const name = `${PREFIX}${Date.now()}_${crypto.randomUUID().slice(0, 8)}`;
  try {
    await dropStaleDatabases(admin);
    await admin.unsafe(`create database "${name}"`);
  } catch (error) {
    throw new Error(
      `Cannot create the test database on ${redact(adminUrl())}: ${message(error)}. ` +
        "Start PostgreSQL (see .ci/run) or set TEST_DATABASE_URL",
    );
  } finally {
    await admin.end();
  }

  const url = withDatabase(adminUrl(), name);
  const db = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await db.file(new URL("./supabase_bootstrap.sql", import.meta.url).pathname);
  } finally {
    await db.end();
  }
  const applied = await applyMigrations(url);
  const ms = Math.round(performance.now() - started);
  console.error(`test database ${name}: ${applied} migration(s) applied in ${ms} ms`);
  return { url, name };
}

/**
 * Drops databases that earlier runs left more than a day ago. A younger one
 * may belong to a run still going on (between two of its queries it has no
 * connection), so it is never touched; the run's name carries its start time.
 */
async function dropStaleDatabases(admin: postgres.Sql): Promise<void> {
  const names = await admin<{ datname: string }[]>`
    select datname from pg_database where datname like ${PREFIX + "%"}`;
  const dayAgo = Date.now() - 24 * 60 * 60 * 1000;
  for (const { datname } of names) {
    const startedAt = Number(datname.slice(PREFIX.length).split("_")[0]);
    if (Number.isFinite(startedAt) && startedAt < dayAgo) {
      await admin.unsafe(`drop database if exists "${datname}"`);
    }
  }
}

/** Runs `supabase migration up` (pinned in import_map.json) against `url`. */
async function applyMigrations(url: string): Promise<number> {
  const cli = importMap.imports.supabase;
  const dbUrl = new URL(url);
  dbUrl.searchParams.set("sslmode", "disable");
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", cli, "migration", "up", "--db-url", dbUrl.href],
    cwd: repoRoot.pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
  if (!output.success) {
    throw new Error(`Cannot apply migrations with ${cli}: ${text.trim()}`);
  }
  return text.match(/Applying migration/g)?.length ?? 0;
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.href;
}

function redact(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = "***";
  return u.href;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Runs `fn` in a transaction as `role`, with `claims` as the JWT claims, the
 * way PostgREST runs a request; the transaction is rolled back afterwards.
 */
export async function asRole<T>(
  sql: postgres.Sql,
  role: "anon" | "authenticated" | "service_role",
  claims: Record<string, unknown>,
  fn: (tx: postgres.TransactionSql) => Promise<T>,
): Promise<T> {
  let result: T | undefined;
  const rollback = new Error("rollback");
  try {
    await sql.begin(async (tx) => {
      await tx.unsafe(`set local role ${role}`);
      await tx`select set_config('request.jwt.claims', ${
        JSON.stringify({ role, ...claims })
      }, true)`;
      result = await fn(tx);
      throw rollback;
    });
  } catch (error) {
    if (error !== rollback) throw error;
  }
  return result as T;
}
