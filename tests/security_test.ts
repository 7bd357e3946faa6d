import assert from "node:assert/strict";
import type postgres from "postgres";
import { createApp } from "../functions/app.ts";
import { clerkPayload, newMessageId, newUserId } from "./support/clerk.ts";
import { asRole } from "./support/database.ts";
import {
  captureLogs,
  TEST_SIGNING_KEY,
  TEST_SIGNING_KEY_FALLBACK,
  testEnv,
} from "./support/env.ts";
import {
  callFunction,
  canonicalJson,
  driveRun,
  inngestSignature,
} from "./support/inngest_cloud.ts";
import { withPostgrest } from "./support/postgrest.ts";
import { userRow, usersStoreAt } from "./support/users.ts";

Deno.test("/inngest in cloud mode answers only Inngest's signature", async (t) => {
  await withPostgrest(async (_sql, postgrest) => {
    const app = createApp(
      testEnv({
        SUPABASE_URL: postgrest.url,
        SUPABASE_SERVICE_ROLE_KEY: postgrest.serviceKey,
        INNGEST_SIGNING_KEY_FALLBACK: TEST_SIGNING_KEY_FALLBACK,
      }),
      { logger: captureLogs().logger },
    );
    const payload = clerkPayload("user.deleted", { id: newUserId() });
    const event = {
      id: newMessageId(),
      name: "clerk/user.deleted",
      data: payload.data,
      ts: payload.timestamp,
    };
    const runPayload = {
      event,
      events: [event],
      steps: {},
      ctx: { run_id: crypto.randomUUID(), attempt: 0, stack: { stack: [], current: 0 } },
      version: 1,
    };
    const call = (options: { signingKey?: string; signedAt?: Date }) =>
      callFunction(
        { handler: app.handler, functionId: "delete-user-from-clerk", ...options },
        runPayload,
      );

    const rejected: [string, () => Promise<Response>][] = [
      ["an unsigned request", () => call({})],
      [
        "a request signed with another key",
        () => call({ signingKey: "signkey-test-" + "00".repeat(32) }),
      ],
      [
        "a request signed 6 minutes ago",
        () => call({ signingKey: TEST_SIGNING_KEY, signedAt: new Date(Date.now() - 6 * 60_000) }),
      ],
      ["a signature over a different body", async () => {
        const url =
          "http://localhost/clerk-events/inngest?fnId=clerk-events-delete-user-from-clerk&stepId=step";
        const signature = await inngestSignature(canonicalJson({ other: true }), TEST_SIGNING_KEY);
        return app.handler(
          new Request(url, {
            method: "POST",
            headers: { host: "localhost", "x-inngest-signature": signature },
            body: canonicalJson(runPayload),
          }),
        );
      }],
      [
        "an unsigned GET (introspection)",
        () =>
          app.handler(
            new Request("http://localhost/clerk-events/inngest", {
              headers: { host: "localhost" },
            }),
          ),
      ],
      ["an unsigned PUT (sync)", () =>
        app.handler(
          new Request("http://localhost/clerk-events/inngest", {
            method: "PUT",
            headers: { host: "localhost" },
          }),
        )],
    ];
    for (const [name, send] of rejected) {
      await t.step(`${name} gets 401`, async () => {
        const res = await send();
        assert.equal(res.status, 401);
        await res.body?.cancel();
      });
    }

    for (
      const [name, key] of [["current", TEST_SIGNING_KEY], ["fallback", TEST_SIGNING_KEY_FALLBACK]]
    ) {
      await t.step(`a run signed with the ${name} key completes`, async () => {
        const id = newUserId();
        const outcome = await driveRun({
          handler: app.handler,
          functionId: "delete-user-from-clerk",
          event: { ...event, id: newMessageId(), data: { ...event.data, id } },
          signingKey: key,
        });
        assert.deepEqual(outcome.result, { userId: id, outcome: "deleted" });
      });
    }
  });
});

type Role = "anon" | "other user" | "same user" | "service_role";
type Operation = "select" | "insert" | "update" | "delete";

/** What each role may do on each table: the number of rows it sees or changes, or "denied". */
const EXPECTED: Record<Role, Record<Operation, number | "denied">> = {
  "anon": { select: "denied", insert: "denied", update: "denied", delete: "denied" },
  "other user": { select: 0, insert: "denied", update: "denied", delete: "denied" },
  "same user": { select: 1, insert: "denied", update: "denied", delete: "denied" },
  "service_role": { select: 1, insert: 1, update: 1, delete: 1 },
};

const TABLES = {
  users: {
    key: "id",
    insert: (tx: postgres.TransactionSql, id: string) =>
      tx`insert into public.users (id) values (${id + "_new"})`,
    update: (tx: postgres.TransactionSql, id: string) =>
      tx`update public.users set first_name = 'x' where id = ${id}`,
  },
  email_deliveries: {
    key: "user_id",
    insert: (tx: postgres.TransactionSql, id: string) =>
      tx`insert into public.email_deliveries (user_id, kind) values (${id + "_new"}, 'welcome')`,
    update: (tx: postgres.TransactionSql, id: string) =>
      tx`update public.email_deliveries set status = 'sent' where user_id = ${id}`,
  },
  email_preferences: {
    key: "user_id",
    insert: (tx: postgres.TransactionSql, id: string) =>
      tx`insert into public.email_preferences (user_id) values (${id + "_new"})`,
    update: (tx: postgres.TransactionSql, id: string) =>
      tx`update public.email_preferences set marketing_opt_out_at = null, source = null
          where user_id = ${id}`,
  },
} as const;

async function attempt(
  sql: postgres.Sql,
  role: Role,
  owner: string,
  table: keyof typeof TABLES,
  operation: Operation,
): Promise<number | "denied"> {
  const dbRole = role === "anon"
    ? "anon"
    : role === "service_role"
    ? "service_role"
    : "authenticated";
  const sub = role === "same user" ? owner : role === "other user" ? newUserId() : undefined;
  const spec = TABLES[table];
  try {
    return await asRole(sql, dbRole, sub ? { sub } : {}, async (tx) => {
      const result = operation === "select"
        ? await tx.unsafe(`select 1 from public.${table} where ${spec.key} = $1`, [owner])
        : operation === "delete"
        ? await tx.unsafe(`delete from public.${table} where ${spec.key} = $1`, [owner])
        : await spec[operation](tx, owner);
      return result.count;
    });
  } catch (error) {
    if ((error as { code?: string }).code === "42501") return "denied";
    throw error;
  }
}

Deno.test("row level security: who may read and write each table", async (t) => {
  await withPostgrest(async (sql, postgrest) => {
    const owner = newUserId();
    await usersStoreAt(postgrest).upsert(userRow(owner, 1));
    await sql`select public.claim_email_delivery(${owner}, 'welcome')`;
    await sql`select public.opt_out_of_marketing_email(${owner}, 'one_click')`;
    for (const table of Object.keys(TABLES) as (keyof typeof TABLES)[]) {
      for (const role of Object.keys(EXPECTED) as Role[]) {
        for (const operation of ["select", "insert", "update", "delete"] as Operation[]) {
          const expected = EXPECTED[role][operation];
          await t.step(`${role} ${operation} on ${table}: ${expected}`, async () => {
            assert.equal(await attempt(sql, role, owner, table, operation), expected);
          });
        }
      }
    }
  });
});

Deno.test("every function in the public schema is executable by the service role only", async () => {
  await withPostgrest(async (sql) => {
    const rows = await sql<
      { fn: string; anon: boolean; authenticated: boolean; public: boolean; service: boolean }[]
    >`
      select p.oid::regprocedure::text as fn,
             has_function_privilege('anon', p.oid, 'execute') as anon,
             has_function_privilege('authenticated', p.oid, 'execute') as authenticated,
             coalesce(aclcontains(p.proacl, makeaclitem(0, p.proowner, 'EXECUTE', false)), true) as public,
             has_function_privilege('service_role', p.oid, 'execute') as service
        from pg_proc p join pg_namespace n on n.oid = p.pronamespace
       where n.nspname = 'public'
       order by 1`;
    const names = rows.map((r) => r.fn.replace(/\(.*/, ""));
    for (
      const expected of [
        "upsert_user_from_clerk",
        "delete_user_from_clerk",
        "claim_email_delivery",
        "record_email_delivery",
        "onboarding_recipient",
        "clerk_events_health",
        "opt_out_of_marketing_email",
        "marketing_email_opted_out",
        "record_email_event",
      ]
    ) {
      assert.ok(names.includes(expected), `${expected} exists`);
    }
    for (const row of rows) {
      assert.deepEqual(
        {
          fn: row.fn,
          anon: row.anon,
          authenticated: row.authenticated,
          public: row.public,
          service: row.service,
        },
        { fn: row.fn, anon: false, authenticated: false, public: false, service: true },
      );
    }
  });
});
