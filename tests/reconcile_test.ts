import assert from "node:assert/strict";
import type postgres from "postgres";
import { type App, type AppOptions, createApp } from "../functions/app.ts";
import { RECONCILE_FUNCTION_ID } from "../functions/reconcile/reconcile_function.ts";
import type { Env } from "../functions/settings.ts";
import {
  type ClerkApi,
  clerkUser,
  type ClerkUserObject,
  startClerkApi,
} from "./support/clerk_api.ts";
import { captureLogs, TEST_SIGNING_KEY, testEnv } from "./support/env.ts";
import { appAt } from "./support/app.ts";
import { type EventApi, startEventApi } from "./support/event_api.ts";
import { type DriveOptions, driveRun } from "./support/inngest_cloud.ts";
import { readRegistration } from "./support/inngest_registration.ts";
import { AUTH_RETRY_MS } from "../functions/inngest/step_errors.ts";
import { type Postgrest, withPostgrest } from "./support/postgrest.ts";
import { type ResendApi, startResendApi } from "./support/resend_api.ts";
import { readUser, usersStoreAt } from "./support/users.ts";
import { asRole } from "./support/database.ts";
import { toUserRow } from "../functions/users/user_row.ts";
import { clerkUserSchema } from "../functions/clerk/schemas.ts";
import { createServiceClient } from "../functions/database/supabase_client.ts";
import { createSupabaseRunsStore } from "../functions/reconcile/supabase_runs_store.ts";
import { createSupabaseUsersReconcileStore } from "../functions/users/supabase_reconcile_store.ts";
import { ClerkApiError } from "../functions/clerk/backend_api.ts";
import { confirmAbsentUsers } from "../functions/users/reconcile_steps.ts";
import type { UsersReconcileStore } from "../functions/users/reconcile_store.ts";

/** What a run returns: its id and the counts of public.clerk_sync_runs. */
interface RunResult {
  runId: string;
  status: string;
  dryRun: boolean;
  listed: number;
  inserted: number;
  updated: number;
  unchanged: number;
  tombstoned: number;
}

interface Harness {
  sql: postgres.Sql;
  postgrest: Postgrest;
  clerk: ClerkApi;
  events: EventApi;
  resend: ResendApi;
  /** An app wired to the stand-ins, with `env` and `options` on top. */
  app(env?: Env, options?: AppOptions["reconcile"]): App;
}

const PAGE_SIZE = 20;

async function withHarness(fn: (h: Harness) => Promise<void>) {
  await withPostgrest(async (sql, postgrest) => {
    const clerk = startClerkApi({ rateLimit: undefined });
    clerk.rateLimit = undefined;
    const events = startEventApi();
    const resend = startResendApi();
    try {
      // The database is shared with the other suites: Clerk must know their
      // users too, or a reconcile would rightly erase them.
      await mirrorExistingUsers(sql, clerk);
      await fn({
        sql,
        postgrest,
        clerk,
        events,
        resend,
        app: (env = {}, options = {}) =>
          appAt(postgrest, {
            CLERK_API_URL: clerk.url,
            CLERK_API_REQUEST_BUDGET: "1000/1s",
            INNGEST_EVENT_API_BASE_URL: events.url,
            RESEND_BASE_URL: resend.url,
            ...env,
          }, { reconcile: { pageSize: PAGE_SIZE, confirmBatchSize: 3, ...options } }),
      });
    } finally {
      await Promise.all([clerk.close(), events.close(), resend.close()]);
    }
  });
}

async function mirrorExistingUsers(sql: postgres.Sql, clerk: ClerkApi) {
  const rows = await sql<
    { id: string; email: string | null; created: number | null; updated: number | null }[]
  >`select id, email,
           (extract(epoch from clerk_created_at) * 1000)::bigint::float8 as created,
           (extract(epoch from clerk_updated_at) * 1000)::bigint::float8 as updated
      from public.users where deleted_at is null`;
  for (const row of rows) {
    clerk.putUser(clerkUser({
      id: row.id,
      email: row.email,
      createdAt: row.created ?? Date.now(),
      updatedAt: row.updated ?? 0,
    }));
  }
}

function requestEvent(data: Record<string, unknown> = {}) {
  return {
    id: crypto.randomUUID(),
    name: "clerk-events/reconcile.requested",
    data,
    ts: Date.now(),
  };
}

async function reconcile(
  app: App,
  data: Record<string, unknown> = {},
  options: Partial<DriveOptions> = {},
): Promise<RunResult> {
  return (await drive(app, data, options)).result as RunResult;
}

/** Drives one run through the /inngest route, as Inngest Cloud would. */
function drive(app: App, data: Record<string, unknown>, options: Partial<DriveOptions>) {
  return driveRun({
    handler: app.handler,
    functionId: RECONCILE_FUNCTION_ID,
    event: requestEvent(data),
    signingKey: TEST_SIGNING_KEY,
    maxRequests: 2_000,
    ...options,
  });
}

async function readRun(sql: postgres.Sql, id: string) {
  const [run] = await sql`select * from public.clerk_sync_runs where id = ${id}`;
  return run;
}

/** `n` users Clerk has, created before every other user (so on the first pages). */
function oldUsers(clerk: ClerkApi, n: number, base = 1_000_000_000_000): ClerkUserObject[] {
  return Array.from({ length: n }, (_, i) => {
    const user = clerkUser({ createdAt: base + i, email: `old${i}@example.com` });
    clerk.putUser(user);
    return user;
  });
}

function rowOf(user: ClerkUserObject) {
  return toUserRow(clerkUserSchema.parse(user));
}

function usersRequested(clerk: ClerkApi, id: string) {
  return clerk.accepted().filter((r) => r.path === `/v1/users/${id}`).length;
}

Deno.test("reconcile fills public.users from Clerk, then changes nothing", async (t) => {
  await withHarness(async (h) => {
    const app = h.app();
    const users = Array.from({ length: 45 }, () => clerkUser());
    for (const user of users) h.clerk.putUser(user);
    const total = [...h.clerk.users()].length;
    let first: RunResult;

    await t.step("every Clerk user is inserted, with the primary address", async () => {
      first = await reconcile(app);
      assert.equal(first.status, "succeeded");
      assert.equal(first.listed, total);
      assert.equal(first.inserted, users.length);
      for (const user of users) {
        const row = await readUser(h.sql, user.id);
        const addresses = user.email_addresses as { id: string; email_address: string }[];
        const primary = addresses.find((a) => a.id === user.primary_email_address_id);
        assert.equal(row?.email, primary?.email_address, user.id);
        assert.equal(row?.first_name, "Ada");
        assert.equal(row?.clerk_updated_at?.getTime(), user.updated_at);
      }
    });

    await t.step("the run is recorded, and its seen ids are dropped", async () => {
      const run = await readRun(h.sql, first.runId);
      assert.equal(run.status, "succeeded");
      assert.equal(run.trigger, "event");
      assert.ok(run.finished_at >= run.started_at);
      assert.equal(run.inserted, users.length);
      const [{ count }] = await h.sql`
        select (select count(*) from public.clerk_sync_seen where run_id = ${first.runId})::int
             + (select count(*) from public.clerk_sync_absent where run_id = ${first.runId})::int
               as count`;
      assert.equal(count, 0);
    });

    await t.step("pages are read oldest first, 20 at a time, each once", () => {
      const pages = h.clerk.accepted().filter((r) => r.path === "/v1/users");
      assert.equal(pages.length, Math.floor(total / PAGE_SIZE) + 1);
      pages.forEach((page, i) =>
        assert.deepEqual(page.query, {
          limit: String(PAGE_SIZE),
          offset: String(i * PAGE_SIZE),
          order_by: "+created_at",
        })
      );
    });

    await t.step("a second run changes nothing", async () => {
      const second = await reconcile(app);
      assert.deepEqual(
        { ...second, runId: undefined },
        {
          runId: undefined,
          status: "succeeded",
          dryRun: false,
          listed: total,
          inserted: 0,
          updated: 0,
          unchanged: total,
          tombstoned: 0,
          organizations: { listed: 0, inserted: 0, updated: 0, unchanged: 0, tombstoned: 0 },
          memberships: { listed: 0, inserted: 0, updated: 0, unchanged: 0, tombstoned: 0 },
        },
      );
    });

    await t.step("no onboarding email and no clerk/user.created result", async () => {
      assert.deepEqual(h.events.accepted, [], "no event was sent to Inngest");
      assert.deepEqual(h.resend.delivered, []);
      assert.equal(h.resend.requests, 0);
      const [{ count }] = await h.sql`
        select count(*)::int as count from public.email_deliveries
         where user_id = any(${users.map((u) => u.id)})`;
      assert.equal(count, 0);
    });
  });
});

Deno.test("reconcile repairs stale rows and keeps newer ones", async (t) => {
  await withHarness(async (h) => {
    const store = usersStoreAt(h.postgrest);
    const [stale, newer] = [clerkUser(), clerkUser()];
    h.clerk.putUser(stale);
    h.clerk.putUser(newer);
    // public.users saw older and newer versions than Clerk now serves.
    await store.upsert({
      ...rowOf(stale),
      first_name: "Old",
      clerk_updated_at: new Date(stale.updated_at - 1000).toISOString(),
    });
    await store.upsert({
      ...rowOf(newer),
      first_name: "Newer",
      clerk_updated_at: new Date(newer.updated_at + 1000).toISOString(),
    });
    const result = await reconcile(h.app());

    await t.step("a stale row is updated", async () => {
      assert.equal((await readUser(h.sql, stale.id))?.first_name, "Ada");
      assert.ok(result.updated >= 1);
    });
    await t.step("a row newer than Clerk's copy is not overwritten", async () => {
      assert.equal((await readUser(h.sql, newer.id))?.first_name, "Newer");
    });
  });
});

Deno.test("reconcile erases users Clerk deleted, and only those", async (t) => {
  await withHarness(async (h) => {
    const app = h.app();
    const store = usersStoreAt(h.postgrest);
    const mine = oldUsers(h.clerk, 2 * PAGE_SIZE + 5);
    await reconcile(app);

    const deleted = mine[mine.length - 1];
    const tombstone = clerkUser();
    h.clerk.putUser(tombstone);
    await store.upsert(rowOf(tombstone));
    await store.markDeleted(tombstone.id, new Date().toISOString());
    h.clerk.updateUser(tombstone.id, { first_name: "Back" });
    // Deleted in Clerk while the second page is read: every later user moves
    // up one place, so the first of the old second page is never listed.
    const skipped = mine[PAGE_SIZE];
    const lateDeleted = mine[0];
    const createdDuringRun = clerkUser();
    h.clerk.deleteUser(deleted.id);
    h.clerk.onRequest = async (request) => {
      if (request.path === "/v1/users" && request.query.offset === String(PAGE_SIZE)) {
        h.clerk.deleteUser(lateDeleted.id);
      }
      const total = [...h.clerk.users()].length;
      if (request.path === "/v1/users" && Number(request.query.offset) + PAGE_SIZE > total) {
        // Signs up as the last page is read: the webhook path writes the
        // row, and Clerk has the user just after answering that page.
        await store.upsert(rowOf(createdDuringRun));
        setTimeout(() => h.clerk.putUser(createdDuringRun), 0);
      }
    };
    const result = await reconcile(app);
    h.clerk.onRequest = () => {};

    await t.step("a user deleted in Clerk is erased, after Clerk confirmed it", async () => {
      const row = await readUser(h.sql, deleted.id);
      assert.ok(row?.deleted_at, "tombstoned");
      assert.equal(row?.email, null);
      assert.equal(row?.first_name, null);
      assert.equal(usersRequested(h.clerk, deleted.id), 1);
      assert.equal(result.tombstoned, 1);
    });

    await t.step("a user missed by the listing is kept, because Clerk still has it", async () => {
      assert.equal(usersRequested(h.clerk, skipped.id), 1, "absence was checked with Clerk");
      const row = await readUser(h.sql, skipped.id);
      assert.equal(row?.deleted_at, null);
      assert.equal(row?.email, "old20@example.com");
    });

    await t.step("a tombstone is never restored", async () => {
      const row = await readUser(h.sql, tombstone.id);
      assert.ok(row?.deleted_at);
      assert.equal(row?.first_name, null);
    });

    await t.step("a user deleted after it was listed is erased by the next run", async () => {
      assert.equal((await readUser(h.sql, lateDeleted.id))?.deleted_at, null);
      const next = await reconcile(app);
      assert.equal(next.tombstoned, 1);
      assert.ok((await readUser(h.sql, lateDeleted.id))?.deleted_at);
    });

    await t.step("a user created in Clerk during the run is not erased", async () => {
      const row = await readUser(h.sql, createdDuringRun.id);
      assert.equal(row?.deleted_at, null);
      assert.ok(row?.email);
      assert.equal(usersRequested(h.clerk, createdDuringRun.id), 0, "not even a candidate");
    });
  });
});

Deno.test("a dry run counts what would change without writing", async () => {
  await withHarness(async (h) => {
    const app = h.app();
    const store = usersStoreAt(h.postgrest);
    const [kept, fresh, stale] = [clerkUser(), clerkUser(), clerkUser()];
    for (const user of [kept, fresh, stale]) h.clerk.putUser(user);
    await store.upsert(rowOf(kept));
    await store.upsert({
      ...rowOf(stale),
      first_name: "Old",
      clerk_updated_at: new Date(stale.updated_at - 1).toISOString(),
    });
    h.clerk.deleteUser(kept.id);

    const result = await reconcile(app, { dryRun: true });
    assert.equal(result.dryRun, true);
    assert.deepEqual(
      [result.inserted, result.updated, result.tombstoned],
      [1, 1, 1],
      JSON.stringify(result),
    );
    assert.equal(await readUser(h.sql, fresh.id), undefined, "nothing inserted");
    assert.equal((await readUser(h.sql, stale.id))?.first_name, "Old", "nothing updated");
    assert.equal((await readUser(h.sql, kept.id))?.deleted_at, null, "nothing erased");
    assert.equal((await readRun(h.sql, result.runId)).dry_run, true);
  });
});

Deno.test("reconcile keeps to Clerk's rate limits", async (t) => {
  await withHarness(async (h) => {
    oldUsers(h.clerk, 12);
    const mine = [...h.clerk.users()];
    const pages = Math.floor(mine.length / 4) + 1;

    await t.step("past the limit, it waits Retry-After and skips nothing", async () => {
      h.clerk.rateLimit = { limit: 2, windowMs: 1_000 };
      const before = h.clerk.requests.length;
      const outcome = await drive(h.app({}, { pageSize: 4 }), {}, {
        maxAttempts: 30,
        retryDelayMs: () => 1_000,
      });
      const result = outcome.result as RunResult;
      const requests = h.clerk.requests.slice(before);
      assert.ok(requests.some((r) => r.status === 429), "the limit was hit");
      const retried = outcome.ops.filter((op) => op.op === "StepError");
      assert.ok(retried.length > 0, "a step was retried");
      for (const op of retried) {
        assert.equal((op.error as { name?: string }).name, "RetryAfterError");
      }
      const listed = requests.filter((r) => r.path === "/v1/users" && r.status === 200);
      assert.deepEqual(
        listed.map((r) => Number(r.query.offset)),
        Array.from({ length: pages }, (_, i) => i * 4),
        "every page was read once",
      );
      assert.equal(result.status, "succeeded");
      for (const user of mine) assert.ok(await readUser(h.sql, user.id), user.id);
    });

    await t.step("within its budget, it never meets the limit", async () => {
      h.clerk.rateLimit = { limit: 3, windowMs: 1_000 };
      // 3 requests per 1.1 s leaves room for the stand-in's clock.
      const app = h.app({ CLERK_API_REQUEST_BUDGET: "3/1100ms" }, { pageSize: 4 });
      await new Promise((resolve) => setTimeout(resolve, 1_100)); // a fresh window
      const before = h.clerk.requests.length;
      await reconcile(app);
      const requests = h.clerk.requests.slice(before);
      assert.ok(requests.length > 3, "more requests than one window allows");
      assert.deepEqual(requests.filter((r) => r.status === 429), []);
    });
  });
});

Deno.test("reconcile fails clearly when Clerk refuses the key", async (t) => {
  await withHarness(async (h) => {
    await t.step(
      "a wrong key waits out a rotation, then fails the run saying which setting",
      async () => {
        const before = h.clerk.requests.length;
        const wrong = "sk_test_" + "0".repeat(40);
        const waits: (string | null)[] = [];
        const error = await reconcile(h.app({ CLERK_SECRET_KEY: wrong }), {}, {
          maxAttempts: 3,
          onRetry: (retryAfter) => waits.push(retryAfter),
        }).then(() => undefined, (e: Error) => e);
        assert.ok(error, "the run failed");
        assert.match(error.message, /Clerk answered 401 \(authentication_invalid\)/);
        assert.match(error.message, /check CLERK_SECRET_KEY/);
        assert.ok(!error.message.includes(wrong));
        // A key mid-rotation must not fail the run at once; each retry waits long.
        assert.equal(h.clerk.requests.length - before, 3, "one request per attempt");
        assert.deepEqual(waits.map(Number), [AUTH_RETRY_MS / 1000, AUTH_RETRY_MS / 1000]);
        const [run] = await h.sql`
        select * from public.clerk_sync_runs order by started_at desc limit 1`;
        assert.equal(run.status, "failed");
        assert.match(run.error, /Clerk answered 401/);
      },
    );

    await t.step("a missing key fails a requested run without calling Clerk", async () => {
      const before = h.clerk.requests.length;
      const app = h.app({ CLERK_SECRET_KEY: undefined });
      await assert.rejects(reconcile(app), /CLERK_SECRET_KEY is missing/);
      assert.equal(h.clerk.requests.length, before);
      const [run] = await h.sql`
        select * from public.clerk_sync_runs order by started_at desc limit 1`;
      assert.equal(run.status, "failed");
      assert.match(run.error, /CLERK_SECRET_KEY is missing/);
    });
  });
});

Deno.test("reconcile is registered to run alone, on its schedule and on request", async (t) => {
  // What Inngest is told: the registration the serve route gives a sync.
  const fn = async (env: Env) => {
    const app = createApp(testEnv(env), { logger: captureLogs().logger });
    const found = (await readRegistration({ handler: app.handler, signingKey: TEST_SIGNING_KEY }))
      .get(RECONCILE_FUNCTION_ID);
    assert.ok(found, "the function is served");
    return found.raw as {
      singleton?: unknown;
      triggers: { cron?: string; event?: unknown }[];
    };
  };
  await t.step("a second trigger during a run is skipped, not queued", async () => {
    assert.deepEqual((await fn({})).singleton, { mode: "skip" });
  });
  await t.step("the default schedule is 03:00 UTC, plus the request event", async () => {
    const triggers = (await fn({})).triggers;
    assert.deepEqual(triggers[0], { cron: "TZ=UTC 0 3 * * *" });
    assert.equal(triggers[1].event, "clerk-events/reconcile.requested");
  });
  await t.step("off, or no secret key, leaves only the request event", async () => {
    for (const env of [{ CLERK_RECONCILE_CRON: "off" }, { CLERK_SECRET_KEY: undefined }]) {
      const triggers = (await fn(env)).triggers;
      assert.equal(triggers.length, 1);
      assert.equal(triggers[0].cron, undefined);
    }
  });
});

Deno.test("only the service role may read or write reconcile runs", async () => {
  await withPostgrest(async (sql) => {
    for (const role of ["anon", "authenticated"] as const) {
      for (const table of ["clerk_sync_runs", "clerk_sync_seen", "clerk_sync_absent"]) {
        await assert.rejects(
          asRole(sql, role, { sub: "user_x" }, (tx) => tx.unsafe(`select 1 from public.${table}`)),
          /permission denied/,
          `${role} on ${table}`,
        );
      }
    }
    const rows = await asRole(
      sql,
      "service_role",
      {},
      (tx) => tx`select count(*) from public.clerk_sync_runs`,
    );
    assert.equal(rows.length, 1);
  });
});

Deno.test("a page applied twice, as by a retried step, is counted once", async () => {
  await withPostgrest(async (_sql, postgrest) => {
    const client = createServiceClient({ url: postgrest.url, serviceKey: postgrest.serviceKey });
    const runs = createSupabaseRunsStore(client);
    const store = createSupabaseUsersReconcileStore(client);
    const run = await runs.startRun(crypto.randomUUID(), "event", false);
    const rows = [clerkUser(), clerkUser()].map(rowOf);
    const first = await store.applyPage(run, 0, rows, false);
    const again = await store.applyPage(run, 0, rows, false);
    assert.deepEqual(first, { listed: 2, inserted: 2, updated: 0, unchanged: 0 });
    assert.deepEqual(again, { listed: 0, inserted: 0, updated: 0, unchanged: 0 });
    const summary = await runs.finishRun(run, "succeeded");
    assert.deepEqual([summary.listed, summary.inserted, summary.unchanged], [2, 2, 0]);
  });
});

Deno.test("a reconcile failure that quotes an address logs it masked", async () => {
  // An upstream message (a proxy's, say) that quotes the address it choked on.
  const leaky = new ClerkApiError(
    "Cannot get Clerk user: upstream rejected jane@example.com",
    502,
    false,
  );
  const logs = captureLogs();
  const store = {
    absentUsers: () => Promise.resolve(["user_gone", "user_failing"]),
    resolveAbsent: () =>
      Promise.resolve({ listed: 0, inserted: 0, updated: 0, unchanged: 0, tombstoned: 1 }),
  } as unknown as UsersReconcileStore;
  const checked = await confirmAbsentUsers({
    clerk: {
      listUsers: () => Promise.resolve([]),
      getUser: (id) => id === "user_gone" ? Promise.resolve(null) : Promise.reject(leaky),
    },
    store,
    log: logs.logger,
    runId: "run_1",
    dryRun: false,
    pageSize: 500,
    pagesPerStep: 1,
    confirmBatchSize: 25,
  });
  assert.equal(checked, 1, "the user Clerk answered for is resolved, the other waits");
  const paused = logs.records().find((r) => r.msg === "Reconcile confirmation paused");
  assert.ok(paused, "the paused confirmation is logged");
  assert.equal(paused.status, 502);
  assert.match(String(paused.error), /upstream rejected \[email\]/);
  assert.ok(!logs.lines.some((line) => line.includes("jane@example.com")), logs.lines.join("\n"));
});
