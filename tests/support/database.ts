/**
 * A real PostgreSQL database for the test run.
 *
 * Without `TEST_DATABASE_URL`, the run starts its own PostgreSQL in-process
 * (PGlite, see `embedded_database.ts`), so the tests need nothing but Deno.
 * It serves one connection at a time: every pool that {@link connect} opens
 * then holds at most one connection, and {@link connect} waits until the
 * previous pool has gone.
 *
 * With `TEST_DATABASE_URL`, each run creates a fresh database on that server.
 *
 * Either way the database gets what a Supabase database has (roles,
 * `auth.jwt()`) from `supabase_bootstrap.sql`, then `supabase/migrations`
 * applied with the Supabase CLI's own `migration up`, the same code path
 * `supabase db reset` uses.
 *
 * With `TEST_SUPABASE_STACK=1`, `TEST_DATABASE_URL` is taken to be the
 * database of a running `supabase start` stack whose migrations were applied
 * by `supabase db reset`, and it is used as it is.
 *
 * {@link createTestDatabase} makes a database of a test's own the same way,
 * optionally migrated only up to a given file: a database behind the code.
 */
import postgres from "postgres";
import importMap from "../../import_map.json" with { type: "json" };
import type { EmbeddedDatabase } from "./embedded_database.ts";

/** A database the tests can use, and how to reach it. */
export interface TestDatabase {
  /** Connection URL of the test database. */
  readonly url: string;
  /** Database name, for messages. */
  readonly name: string;
  /** True for the in-process PGlite, which serves one connection at a time. */
  readonly embedded: boolean;
}

/** Options for {@link createTestDatabase}. */
export interface MigrationOptions {
  /**
   * Apply only the migrations older than this one (its file name without
   * `.sql`), as on a database that is behind the code.
   */
  readonly stopBefore?: string;
}

/** A database of one test's own; `close()` removes it. */
export interface OwnTestDatabase extends TestDatabase {
  /** Opens a pool to it, as {@link connect} does for the run's database. */
  connect(): Promise<postgres.Sql>;
  /** Ends nothing of the caller's: end your pools first. Then removes the database. */
  close(): Promise<void>;
}

const DEFAULT_ADMIN_URL = "postgresql://postgres:postgres@127.0.0.1:5432/postgres";
const PREFIX = "clerk_events_test_";
const repoRoot = new URL("../../", import.meta.url);
const BOOTSTRAP = new URL("./supabase_bootstrap.sql", import.meta.url).pathname;
/** Seconds before a connection attempt gives up: a vanished server fails fast. */
export const CONNECT_TIMEOUT_S = 5;
// Test modules run in separate isolates of one process; the environment is
// shared, so the first module that cannot reach the server tells the others.
const UNREACHABLE = "CLERK_EVENTS_TEST_DATABASE_UNREACHABLE";

let current: Promise<TestDatabase> | undefined;
let embedded: EmbeddedDatabase | undefined;

/** The run's database, created and migrated on first use. */
export function testDatabase(): Promise<TestDatabase> {
  current ??= Deno.env.get("TEST_SUPABASE_STACK") === "1"
    ? useStack()
    : Deno.env.get("TEST_DATABASE_URL")
    ? createFresh()
    : createEmbedded().then(({ db, server }) => {
      embedded = server;
      return db;
    });
  return current;
}

/**
 * Opens a connection pool to the test database. Close it with `sql.end()`.
 * On the embedded database the pool holds one connection, and only one pool
 * may be open at a time.
 */
export async function connect(): Promise<postgres.Sql> {
  const db = await testDatabase();
  await embedded?.idle();
  return postgres(db.url, {
    max: db.embedded ? 1 : 4,
    connect_timeout: CONNECT_TIMEOUT_S,
    onnotice: () => {},
  });
}

/**
 * A new database of the caller's own, bootstrapped and migrated like the
 * run's (embedded, or on TEST_DATABASE_URL's server), with `options`. Not
 * available with TEST_SUPABASE_STACK=1, whose database is the stack's.
 */
export async function createTestDatabase(options: MigrationOptions = {}): Promise<OwnTestDatabase> {
  if (Deno.env.get("TEST_SUPABASE_STACK") === "1") {
    throw new Error("Cannot create a database of its own for a test on the Supabase stack");
  }
  if (Deno.env.get("TEST_DATABASE_URL")) {
    const db = await createFresh(options);
    const pool = () =>
      postgres(db.url, { max: 4, connect_timeout: CONNECT_TIMEOUT_S, onnotice: () => {} });
    return {
      ...db,
      connect: () => Promise.resolve(pool()),
      close: async () => {
        const admin = postgres(adminUrl(), {
          max: 1,
          connect_timeout: CONNECT_TIMEOUT_S,
          onnotice: () => {},
        });
        try {
          await admin.unsafe(`drop database if exists "${db.name}" with (force)`);
        } finally {
          await admin.end();
        }
      },
    };
  }
  const { db, server } = await createEmbedded(options);
  return {
    ...db,
    connect: async () => {
      await server.idle();
      return postgres(db.url, { max: 1, connect_timeout: CONNECT_TIMEOUT_S, onnotice: () => {} });
    },
    close: () => server.close(),
  };
}

function adminUrl(): string {
  return Deno.env.get("TEST_DATABASE_URL") ?? DEFAULT_ADMIN_URL;
}

function useStack(): Promise<TestDatabase> {
  const url = adminUrl();
  return Promise.resolve({ url, name: new URL(url).pathname.slice(1), embedded: false });
}

async function createEmbedded(
  options: MigrationOptions = {},
): Promise<{ db: TestDatabase; server: EmbeddedDatabase }> {
  const started = performance.now();
  // Loaded only here, so a run against a server never loads PGlite.
  const { startEmbeddedDatabase } = await import("./embedded_database.ts");
  const server = await startEmbeddedDatabase();
  await server.exec(await Deno.readTextFile(BOOTSTRAP));
  const applied = await applyMigrations(server.url, options);
  await server.idle();
  const ms = Math.round(performance.now() - started);
  console.error(`test database: embedded PGlite, ${applied} migration(s) applied in ${ms} ms`);
  return { db: { url: server.url, name: "embedded PGlite", embedded: true }, server };
}

async function createFresh(options: MigrationOptions = {}): Promise<TestDatabase> {
  if (Deno.env.get(UNREACHABLE)) throw shortError(Deno.env.get(UNREACHABLE)!);
  const started = performance.now();
  const admin = postgres(adminUrl(), {
    max: 1,
    connect_timeout: CONNECT_TIMEOUT_S,
    onnotice: () => {},
  });
  const name = `${PREFIX}${Date.now()}_${crypto.randomUUID().slice(0, 8)}`;
  try {
    await dropStaleDatabases(admin);
    await admin.unsafe(`create database "${name}"`);
  } catch (error) {
    const text = `Cannot create the test database on ${redact(adminUrl())}: ${message(error)}. ` +
      "Start that server, or unset TEST_DATABASE_URL to use the embedded database";
    Deno.env.set(UNREACHABLE, text);
    throw shortError(text);
  } finally {
    await admin.end();
  }

  const url = withDatabase(adminUrl(), name);
  const db = postgres(url, { max: 1, connect_timeout: CONNECT_TIMEOUT_S, onnotice: () => {} });
  try {
    await db.file(BOOTSTRAP);
  } finally {
    await db.end();
  }
  const applied = await applyMigrations(url, options);
  const ms = Math.round(performance.now() - started);
  console.error(`test database ${name}: ${applied} migration(s) applied in ${ms} ms`);
  return { url, name, embedded: false };
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

/**
 * Runs `supabase migration up` (pinned in import_map.json) against `url`.
 * With `stopBefore`, the CLI works in a copy of the project that holds only
 * the older migration files.
 */
async function applyMigrations(url: string, options: MigrationOptions = {}): Promise<number> {
  const cli = importMap.imports.supabase;
  const dbUrl = new URL(url);
  dbUrl.searchParams.set("sslmode", "disable");
  dbUrl.searchParams.set("connect_timeout", String(CONNECT_TIMEOUT_S));
  const workdir = options.stopBefore ? await olderMigrations(options.stopBefore) : undefined;
  try {
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--quiet",
        cli,
        "migration",
        "up",
        "--db-url",
        dbUrl.href,
        ...(workdir ? ["--workdir", workdir] : []),
      ],
      cwd: repoRoot.pathname,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
    if (!output.success) {
      throw new Error(`Cannot apply migrations with ${cli}: ${text.trim()}`);
    }
    return text.match(/Applying migration/g)?.length ?? 0;
  } finally {
    if (workdir) await Deno.remove(workdir, { recursive: true });
  }
}

/** A temporary project directory whose `supabase/migrations` holds the files before `name`. */
async function olderMigrations(name: string): Promise<string> {
  const source = new URL("supabase/migrations/", repoRoot);
  const files = [...Deno.readDirSync(source)].map((entry) => entry.name)
    .filter((file) => file.endsWith(".sql")).sort();
  if (!files.includes(`${name}.sql`)) {
    throw new Error(`Cannot stop before migration ${name}: supabase/migrations has no such file`);
  }
  const workdir = await Deno.makeTempDir({ prefix: "clerk-events-migrations-" });
  await Deno.mkdir(`${workdir}/supabase/migrations`, { recursive: true });
  for (const file of files.filter((file) => file < `${name}.sql`)) {
    await Deno.copyFile(new URL(file, source), `${workdir}/supabase/migrations/${file}`);
  }
  return workdir;
}

/** An error whose stack is its message: one line in the test report, not a trace. */
function shortError(text: string): Error {
  const error = new Error(text);
  error.stack = `Error: ${text}`;
  return error;
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.href;
}

/** `url` with its password masked, for messages. */
export function redact(url: string): string {
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
