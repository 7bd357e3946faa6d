import assert from "node:assert/strict";
import type postgres from "postgres";
import { createApp } from "../functions/app.ts";
import { clerkPayload, newMessageId, newUserId } from "./support/clerk.ts";
import { asRole } from "./support/database.ts";
import {
  captureLogs,
  TEST_HEALTH_TOKEN,
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
import { readEnvFile } from "./support/env_file.ts";
import { hasBearer } from "../functions/http/bearer.ts";
import { type Env, parseSettings } from "../functions/settings.ts";
import {
  deployedSignal,
  devModeAllowed,
  devModeRefusal,
  LOCAL_ONLY_SECRETS,
  LOCAL_WEBHOOK_SECRET,
} from "../functions/settings/deployment.ts";
import { signedRequest, TEST_SECRET } from "./support/clerk.ts";
import { startEventApi } from "./support/event_api.ts";
import { freePort, start, waitFor } from "./support/process.ts";

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
        "clerk_events_applied_migrations",
        "opt_out_of_marketing_email",
        "marketing_email_opted_out",
        "record_email_event",
      ]
    ) {
      assert.ok(names.includes(expected), `${expected} exists`);
    }
    // The organization helpers and the plan checks are for the app's own
    // policies (DESIGN.md, "Organizations" and "Clerk Billing"): executable
    // by anon and authenticated, not by PUBLIC.
    const policyHelpers = [
      "is_org_member(text)",
      "org_role(text)",
      "active_org_id()",
      "active_org_role()",
      "has_plan(text)",
      "payer_has_plan(text,text)",
    ];
    for (const row of rows) {
      const helper = policyHelpers.includes(row.fn);
      assert.deepEqual(
        {
          fn: row.fn,
          anon: row.anon,
          authenticated: row.authenticated,
          public: row.public,
          service: row.service,
        },
        { fn: row.fn, anon: helper, authenticated: helper, public: false, service: true },
      );
    }
  });
});

// --- Dev mode only where it is safe ------------------------------------------------

/** A server that records every request it gets and answers 200 with "ok". */
function startRecorder() {
  const requests: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    requests.push(`${req.method} ${new URL(req.url).pathname}`);
    return Response.json("ok");
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    requests,
    close: () => server.shutdown(),
  };
}

/** The variables Supabase's hosted runtime injects, as it would. */
const HOSTED = {
  SB_REGION: "eu-central-1",
  SB_EXECUTION_ID: "0b6c6c8e-7d0e-4a39-9a53-8f1d9b0a7f21",
  DENO_DEPLOYMENT_ID: "abcdefghijklmnopqrst_0b6c6c8e_7",
};

/** The entrypoint started as a process with `env`, and its output. */
async function startEntrypoint(env: Record<string, string>) {
  const port = freePort();
  const running = start(Deno.execPath(), ["run", "-A", "tests/support/serve_entrypoint.ts"], {
    HOME: Deno.env.get("HOME") ?? "/root",
    ...(Deno.env.get("DENO_DIR") ? { DENO_DIR: Deno.env.get("DENO_DIR")! } : {}),
    NO_COLOR: "1",
    ENTRYPOINT_PORT: String(port),
    ...env,
  });
  await waitFor(
    () => running.output().includes("listening"),
    "the entrypoint to listen",
    20_000,
    running.output,
  );
  return { running, origin: `http://127.0.0.1:${port}/functions/v1/clerk-events` };
}

/** Every Inngest function the app registers, from a fully configured app. */
function functionIds(): string[] {
  return createApp(testEnv(), { logger: captureLogs().logger }).functions.map((fn) => fn.id());
}

Deno.test("a deployed function started with the local .env refuses dev mode and runs nothing unsigned", async (t) => {
  const recorder = startRecorder();
  const local = await readEnvFile(new URL("../.env.example", import.meta.url));
  // `supabase secrets set --env-file .env` with the local file: everything in
  // it, plus what the platform injects, with every service pointed at a recorder.
  const env = {
    ...local,
    ...HOSTED,
    SUPABASE_URL: recorder.url,
    INNGEST_BASE_URL: recorder.url,
    INNGEST_EVENT_API_BASE_URL: recorder.url,
    RESEND_BASE_URL: recorder.url,
    EMAIL_DRY_RUN: "false",
    RESEND_API_KEY: "re_test_key",
    HEALTH_TOKEN: TEST_HEALTH_TOKEN,
  };
  assert.equal(local.INNGEST_DEV, "1", "the local .env turns dev mode on");
  const { running, origin } = await startEntrypoint(env);
  try {
    await t.step("the start-up log says it in one line", () => {
      const lines = running.output().split("\n").filter((l) => l.includes("Dev mode refused"));
      assert.equal(lines.length, 1, running.output());
      const record = JSON.parse(lines[0]);
      assert.equal(record.level, "error");
      assert.match(
        record.reason,
        /INNGEST_DEV is on, but the function is deployed \(SB_REGION is set\)/,
      );
    });

    for (const id of functionIds()) {
      await t.step(`an unsigned call of ${id} gets 503 and runs nothing`, async () => {
        const userId = newUserId();
        const payload = clerkPayload(
          id === "delete-user-from-clerk" ? "user.deleted" : "user.created",
          {
            id: userId,
          },
        );
        const event = {
          id: newMessageId(),
          name: "clerk/user.created",
          data: payload.data,
          ts: payload.timestamp,
        };
        const res = await callFunction(
          { handler: fetch, functionId: id, url: `${origin}/inngest` },
          {
            event,
            events: [event],
            steps: {},
            ctx: { run_id: crypto.randomUUID(), attempt: 0, stack: { stack: [], current: 0 } },
            version: 1,
          },
        );
        const body = await res.json();
        assert.equal(res.status, 503);
        assert.match(body.message, /the function is deployed \(SB_REGION is set\)/);
      });
    }

    for (const method of ["GET", "PUT"]) {
      await t.step(`an unsigned ${method} /inngest gets 503`, async () => {
        const res = await fetch(`${origin}/inngest`, { method });
        await res.body?.cancel();
        assert.equal(res.status, 503);
      });
    }

    await t.step("no function touched the database, Resend or Inngest", () => {
      assert.deepEqual(
        recorder.requests.filter((r) => !r.endsWith("/rpc/clerk_events_applied_migrations")),
        [],
      );
    });

    await t.step(
      "/health names the problem to whoever holds HEALTH_TOKEN, and nobody else",
      async () => {
        const open = await fetch(`${origin}/health`);
        assert.equal(open.status, 503);
        assert.deepEqual(await open.json(), { status: "unavailable" });
        const detailed = await fetch(`${origin}/health`, {
          headers: { authorization: `Bearer ${TEST_HEALTH_TOKEN}` },
        });
        const body = await detailed.json();
        assert.equal(detailed.status, 503);
        assert.ok(
          body.problems.some((p: string) =>
            p.startsWith("INNGEST_DEV is on, but the function is deployed")
          ),
        );
        assert.ok(body.problems.some((p: string) => p.includes("local-only secret")));
      },
    );

    await t.step("the local-only webhook secret is refused with it", async () => {
      const res = await fetch(
        signedRequest(JSON.stringify(clerkPayload("user.created")), {
          secret: LOCAL_WEBHOOK_SECRET,
          url: `${origin}/webhook`,
        }),
      );
      await res.body?.cancel();
      assert.equal(res.status, 503);
    });
  } finally {
    await running.stop("SIGKILL");
    await recorder.close();
  }
});

Deno.test("the same function on a developer's machine keeps dev mode (the refusal is what stops it)", async () => {
  const recorder = startRecorder();
  const local = await readEnvFile(new URL("../.env.example", import.meta.url));
  const { running, origin } = await startEntrypoint({
    ...local,
    SUPABASE_URL: recorder.url,
    INNGEST_BASE_URL: recorder.url,
    INNGEST_EVENT_API_BASE_URL: recorder.url,
  });
  try {
    const res = await fetch(`${origin}/inngest`);
    await res.body?.cancel();
    assert.equal(res.status, 200, "dev mode answers an unsigned introspection");
    assert.ok(!running.output().includes("Dev mode refused"));
  } finally {
    await running.stop("SIGKILL");
    await recorder.close();
  }
});

Deno.test("the deployed signal is the hosted runtime's variables, not SUPABASE_URL", async (t) => {
  for (const name of Object.keys(HOSTED)) {
    await t.step(`${name} alone marks the function deployed`, () => {
      assert.equal(deployedSignal({ [name]: "x" }), name);
      assert.match(devModeRefusal({ [name]: "x", INNGEST_DEV: "1" }) ?? "", new RegExp(name));
    });
  }
  await t.step("a hosted SUPABASE_URL alone does not: it is the no-Docker local database", () => {
    assert.equal(
      deployedSignal({ SUPABASE_URL: "https://abcdefghijklmnopqrst.supabase.co" }),
      undefined,
    );
    assert.equal(
      devModeAllowed({
        SUPABASE_URL: "https://abcdefghijklmnopqrst.supabase.co",
        INNGEST_DEV: "1",
      }),
      true,
    );
  });
  await t.step("INNGEST_DEV as the Dev Server's URL counts as dev mode", () => {
    assert.ok(devModeRefusal({ ...HOSTED, INNGEST_DEV: "http://127.0.0.1:8288" }));
    assert.equal(devModeRefusal({ ...HOSTED, INNGEST_DEV: "0" }), undefined);
  });
});

Deno.test("the local-only webhook secret is accepted only in dev mode on a local machine", async (t) => {
  const cases: [string, Env, number][] = [
    ["cloud mode", { INNGEST_DEV: "0" }, 503],
    ["cloud mode, beside a real secret", {
      INNGEST_DEV: "0",
      CLERK_WEBHOOK_SIGNING_SECRET: `${TEST_SECRET} ${LOCAL_WEBHOOK_SECRET}`,
    }, 503],
    ["dev mode on a deployed function", { INNGEST_DEV: "1", SB_REGION: "eu-central-1" }, 503],
    ["dev mode on a local machine", { INNGEST_DEV: "1" }, 200],
  ];
  for (const [name, overrides, expected] of cases) {
    await t.step(`${name}: ${expected}`, async () => {
      const api = startEventApi();
      try {
        const app = createApp(
          testEnv({
            CLERK_WEBHOOK_SIGNING_SECRET: LOCAL_WEBHOOK_SECRET,
            INNGEST_EVENT_API_BASE_URL: api.url,
            ...overrides,
          }),
          { logger: captureLogs().logger },
        );
        const res = await app.handler(
          signedRequest(JSON.stringify(clerkPayload("user.created")), {
            secret: LOCAL_WEBHOOK_SECRET,
          }),
        );
        const body = await res.json();
        assert.equal(res.status, expected, JSON.stringify(body));
        assert.equal(api.accepted.length, expected === 200 ? 1 : 0);
        if (expected === 503) {
          assert.match(body.message, /CLERK_WEBHOOK_SIGNING_SECRET is the local-only secret/);
        }
      } finally {
        await api.close();
      }
    });
  }
});

Deno.test("/health shows the public only its status, and the details only to HEALTH_TOKEN", async (t) => {
  const ask = async (env: Env, headers: Record<string, string> = {}) => {
    const app = createApp(testEnv(env), { logger: captureLogs().logger });
    const res = await app.handler(new Request("http://localhost/clerk-events/health", { headers }));
    return { status: res.status, text: await res.text(), headers: res.headers };
  };
  await t.step("no versions, settings or problems in the public answer, ready or not", async () => {
    for (const env of [{}, { RESEND_API_KEY: undefined }, { INNGEST_DEV: "1", SB_REGION: "x" }]) {
      const { text } = await ask(env);
      assert.match(text, /^\{"status":"(ok|unavailable)"\}$/);
    }
  });
  await t.step("a refused dev mode does not unlock the details", async () => {
    const { text } = await ask({ INNGEST_DEV: "1", SB_REGION: "eu-central-1" });
    assert.equal(text, '{"status":"unavailable"}');
  });
  await t.step("the token unlocks them; a near miss does not", async () => {
    const good = await ask({}, { authorization: `Bearer ${TEST_HEALTH_TOKEN}` });
    assert.match(good.text, /"versions"/);
    for (const token of [TEST_HEALTH_TOKEN.toUpperCase(), ` ${TEST_HEALTH_TOKEN}x`, "Bearer"]) {
      const near = await ask({}, { authorization: `Bearer ${token}` });
      assert.doesNotMatch(near.text, /versions/);
    }
  });
  await t.step("an empty HEALTH_TOKEN never matches an empty bearer", async () => {
    const req = new Request("http://localhost/", { headers: { authorization: "Bearer " } });
    assert.equal(await hasBearer(req, [""]), false);
    assert.equal(await hasBearer(req, []), false);
    assert.equal(await hasBearer(req, undefined), false);
  });
  await t.step("during a rotation, the new and the old token both unlock them", async () => {
    const next = "next-health-token-" + "ab12".repeat(8);
    const rotating = { HEALTH_TOKEN: `${next} ${TEST_HEALTH_TOKEN}` };
    for (const token of [next, TEST_HEALTH_TOKEN]) {
      const { text } = await ask(rotating, { authorization: `Bearer ${token}` });
      assert.match(text, /"versions"/);
    }
    const other = await ask(rotating, { authorization: `Bearer ${next}x` });
    assert.doesNotMatch(other.text, /versions/);
  });
  await t.step("a HEALTH_TOKEN shorter than 32 characters is a settings problem", async () => {
    const { status } = await ask({ HEALTH_TOKEN: "short" });
    assert.equal(status, 503);
    const detailed = await ask({ HEALTH_TOKEN: "short", INNGEST_DEV: "1" });
    assert.match(detailed.text, /HEALTH_TOKEN must be at least 32 characters/);
    assert.doesNotMatch(detailed.text, /short/);
  });
});

Deno.test("every local-only secret of .env.example is refused outside local dev mode", async (t) => {
  const groupOf = {
    CLERK_WEBHOOK_SIGNING_SECRET: "webhook",
    UNSUBSCRIBE_SECRET: "unsubscribe",
    RESEND_WEBHOOK_SECRET: "resendWebhook",
  } as const;
  const example = await readEnvFile(new URL("../.env.example", import.meta.url));
  for (const [name, secret] of Object.entries(LOCAL_ONLY_SECRETS)) {
    const group = groupOf[name as keyof typeof groupOf];
    await t.step(`${name}: .env.example ships it`, () => {
      assert.equal(example[name], secret);
    });
    for (
      const [where, overrides, accepted] of [
        ["cloud mode", { INNGEST_DEV: "0" }, false],
        ["dev mode on a deployed function", { INNGEST_DEV: "1", SB_REGION: "eu-central-1" }, false],
        ["dev mode on a local machine", { INNGEST_DEV: "1" }, true],
      ] as const
    ) {
      await t.step(`${name}: ${accepted ? "accepted" : "refused"} in ${where}`, () => {
        const settings = parseSettings(testEnv({ [name]: secret, ...overrides }))[group];
        assert.equal(settings.ok, accepted, JSON.stringify(settings));
        if (!settings.ok) {
          assert.ok(
            settings.problems.some((p) => p.startsWith(`${name} is the local-only secret`)),
            settings.problems.join("; "),
          );
        }
      });
    }
  }
});
