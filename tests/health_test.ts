import assert from "node:assert/strict";
import { createApp } from "../functions/app.ts";
import { createReadiness } from "../functions/health/readiness.ts";
import { allProblems, type Env, parseSettings, SETTING_NAMES } from "../functions/settings.ts";
import { DEVELOPMENT_ONLY_PACKAGES } from "../functions/health/versions.ts";
import { clerkPayload, signedRequest } from "./support/clerk.ts";
import { captureLogs, TEST_HEALTH_TOKEN, testEnv } from "./support/env.ts";
import { startEventApi } from "./support/event_api.ts";
import { withPostgrest } from "./support/postgrest.ts";

const HEALTH_URL = "http://localhost/clerk-events/health";

async function health(env: Env, headers: Record<string, string> = authorized()) {
  const logs = captureLogs();
  const app = createApp(env, { logger: logs.logger });
  const res = await app.handler(new Request(HEALTH_URL, { headers }));
  return { res, body: await res.json(), logs };
}

function authorized(token = TEST_HEALTH_TOKEN): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

Deno.test("health reports readiness without revealing any setting", async (t) => {
  await withPostgrest(async (_sql, postgrest) => {
    const reachable = {
      SUPABASE_URL: postgrest.url,
      SUPABASE_SERVICE_ROLE_KEY: postgrest.serviceKey,
    };
    await steps(t, reachable);
  });
});

async function steps(t: Deno.TestContext, reachable: Env) {
  await t.step("200 with every setting valid and the database reachable", async () => {
    const { res, body } = await health(testEnv(reachable));
    assert.equal(res.status, 200);
    assert.equal(body.status, "ok");
    assert.equal(body.details, "HEALTH_TOKEN");
    assert.equal(body.database, "reachable");
    assert.equal(body.app, "clerk-events");
    assert.equal(body.mode, "cloud");
    assert.deepEqual(body.functions, [
      "sync-user-from-clerk",
      "delete-user-from-clerk",
      "onboarding-emails",
      "reconcile-users-with-clerk",
      "sync-organization-from-clerk",
      "sync-organization-membership-from-clerk",
      "sync-billing-subscription-from-clerk",
      "sync-billing-subscription-item-from-clerk",
      "sync-billing-payment-attempt-from-clerk",
    ]);
    assert.equal(body.versions.inngest, "4.24.0");
    assert.deepEqual(Object.keys(body.settings), [...SETTING_NAMES]);
    assert.deepEqual(body.problems, []);
  });

  await t.step("the public answer is the status and the code, nothing else", async () => {
    const ok = await health(testEnv(reachable), {});
    assert.equal(ok.res.status, 200);
    assert.deepEqual(ok.body, { status: "ok" });
    const down = await health(testEnv({ CLERK_WEBHOOK_SIGNING_SECRET: undefined }), {});
    assert.equal(down.res.status, 503);
    assert.deepEqual(down.body, { status: "unavailable" });
  });

  await t.step("a wrong token gets the public answer", async () => {
    for (const token of [TEST_HEALTH_TOKEN + "x", TEST_HEALTH_TOKEN.slice(0, -1), "", "a"]) {
      const { res, body } = await health(testEnv(reachable), authorized(token));
      assert.deepEqual(body, { status: "ok" }, `token of length ${token.length}`);
      assert.match(res.headers.get("www-authenticate") ?? "", /invalid_token/);
    }
    const basic = await health(testEnv(reachable), { authorization: `Basic ${TEST_HEALTH_TOKEN}` });
    assert.deepEqual(basic.body, { status: "ok" });
  });

  await t.step("without HEALTH_TOKEN, no token unlocks the details in cloud mode", async () => {
    const { body } = await health(testEnv({ ...reachable, HEALTH_TOKEN: undefined }));
    assert.deepEqual(body, { status: "ok" });
  });

  await t.step("503 naming each missing setting", async () => {
    const { res, body, logs } = await health(
      testEnv({ CLERK_WEBHOOK_SIGNING_SECRET: undefined, SUPABASE_URL: undefined }),
    );
    assert.equal(res.status, 503);
    assert.equal(body.status, "unavailable");
    assert.equal(body.settings.CLERK_WEBHOOK_SIGNING_SECRET, "missing");
    assert.equal(body.settings.SUPABASE_URL, "missing");
    assert.ok(body.problems.some((p: string) => p.startsWith("CLERK_WEBHOOK_SIGNING_SECRET")));
    assert.ok(body.problems.some((p: string) => p.startsWith("SUPABASE_URL")));
    // The same problems were logged once at start-up.
    const startup = logs.records().find((r) => r.msg === "Invalid settings");
    assert.match(String(startup?.problems), /SUPABASE_URL is missing/);
  });

  await t.step("503 for invalid values, without echoing them", async () => {
    const secretish = "not-a-secret-value-1234";
    const { res, body } = await health(
      testEnv({
        ...reachable,
        CLERK_WEBHOOK_SIGNING_SECRET: secretish,
        APP_URL: "nope",
        EMAIL_FROM: "bad",
      }),
    );
    assert.equal(res.status, 503);
    const text = JSON.stringify(body);
    assert.ok(!text.includes(secretish));
    assert.equal(body.settings.CLERK_WEBHOOK_SIGNING_SECRET, "present");
    assert.equal(body.problems.length, 3);
  });

  await t.step("no value of any setting appears in the answer", async () => {
    const env = testEnv();
    const { body } = await health(env);
    const text = JSON.stringify(body);
    for (const name of SETTING_NAMES) {
      const value = env[name];
      if (value && value.length > 3) assert.ok(!text.includes(value), `${name} leaked`);
    }
  });

  await t.step("dev mode needs no Inngest keys and shows the details to anyone", async () => {
    const devServer = startEventApi();
    try {
      const { res, body } = await health(
        testEnv({
          ...reachable,
          INNGEST_DEV: "1",
          INNGEST_EVENT_KEY: undefined,
          INNGEST_SIGNING_KEY: undefined,
          INNGEST_EVENT_API_BASE_URL: devServer.url,
        }),
        {},
      );
      assert.equal(res.status, 200, JSON.stringify(body));
      assert.equal(body.mode, "dev");
      assert.equal(body.details, "dev mode");
      assert.equal(body.inngest_dev_server, "reachable");
      // Optional in dev mode: not a problem, listed apart.
      assert.ok(body.optional_unset.includes("INNGEST_SIGNING_KEY"));
      assert.ok(body.optional_unset.includes("INNGEST_EVENT_KEY"));
    } finally {
      await devServer.close();
    }
  });

  await t.step("dev mode says how to start the Inngest Dev Server when it is down", async () => {
    const { res, body } = await health(
      testEnv({
        ...reachable,
        INNGEST_DEV: "1",
        INNGEST_EVENT_API_BASE_URL: "http://127.0.0.1:9/",
      }),
    );
    assert.equal(res.status, 503);
    assert.equal(body.inngest_dev_server, "unreachable");
    const problem = body.problems.find((p: string) => p.startsWith("Inngest Dev Server"));
    assert.match(problem, /npx --yes inngest-cli@\d+\.\d+\.\d+ dev/);
  });

  await t.step("a missing Clerk secret key disables only reconciliation", async () => {
    const { res, body } = await health(testEnv({ ...reachable, CLERK_SECRET_KEY: undefined }));
    assert.equal(res.status, 503);
    assert.equal(body.settings.CLERK_SECRET_KEY, "missing");
    assert.equal(body.settings.CLERK_API_URL, "present");
    assert.deepEqual(
      body.problems,
      [body.problems.find((p: string) => /^CLERK_SECRET_KEY is missing: reconciliation/.test(p))],
    );
    const api = startEventApi();
    try {
      const app = createApp(
        testEnv({ CLERK_SECRET_KEY: undefined, INNGEST_EVENT_API_BASE_URL: api.url }),
        { logger: captureLogs().logger },
      );
      const webhook = await app.handler(signedRequest(clerkPayload("user.created")));
      assert.equal(webhook.status, 200, "the webhook still forwards events");
      assert.equal(api.accepted.length, 1);
    } finally {
      await api.close();
    }
  });

  await t.step("503 when the database does not answer", async () => {
    const { res, body } = await health(testEnv({ SUPABASE_URL: "http://127.0.0.1:1" }));
    assert.equal(res.status, 503);
    assert.equal(body.database, "unreachable");
    assert.ok(body.problems.some((p: string) => p.startsWith("Database: unreachable")));
  });

  await t.step("in dev mode the database problem names SUPABASE_URL and what to run", async () => {
    const { body } = await health(
      testEnv({ SUPABASE_URL: "http://127.0.0.1:1", INNGEST_DEV: "1" }),
    );
    const problem = body.problems.find((p: string) => p.startsWith("Database"));
    assert.match(problem, /SUPABASE_URL/);
    assert.match(problem, /npx --yes supabase@\d+\.\d+\.\d+ start/);
    assert.match(problem, /hosted project/);
  });
}

Deno.test("a flood of health checks costs the database one call per interval", async () => {
  await withPostgrest(async (_sql, postgrest) => {
    let databaseCalls = 0;
    const counting: typeof fetch = (input, init) => {
      const url = input instanceof Request ? input.url : String(input);
      if (url.includes("/rpc/clerk_events_applied_migrations")) databaseCalls += 1;
      return fetch(input, init);
    };
    const app = createApp(
      testEnv({ SUPABASE_URL: postgrest.url, SUPABASE_SERVICE_ROLE_KEY: postgrest.serviceKey }),
      { logger: captureLogs().logger, fetch: counting },
    );
    const ask = async () => {
      const res = await app.handler(new Request(HEALTH_URL, { headers: authorized() }));
      return { status: res.status, body: await res.json() };
    };
    const concurrent = await Promise.all(Array.from({ length: 50 }, ask));
    const sequential = [];
    for (let i = 0; i < 50; i++) sequential.push(await ask());
    for (const answer of [...concurrent, ...sequential]) {
      assert.equal(answer.status, 200);
      assert.equal(answer.body.database, "reachable");
      assert.equal(typeof answer.body.checked_ago_ms, "number");
    }
    assert.equal(databaseCalls, 1, "100 health checks, one database call");
  });
});

Deno.test("the readiness check runs again once its answer is older than the interval", async () => {
  let clock = 1_000_000;
  let calls = 0;
  const readiness = createReadiness({
    settings: parseSettings(testEnv()),
    checkDatabase: () => {
      calls += 1;
      return Promise.resolve(true);
    },
    cacheMs: 5_000,
    now: () => clock,
  });
  assert.equal((await readiness()).checkedAgoMs, 0);
  clock += 4_999;
  const cached = await readiness();
  assert.equal(calls, 1);
  assert.equal(cached.checkedAgoMs, 4_999, "the answer says how old it is");
  clock += 1;
  const again = await readiness();
  assert.equal(calls, 2);
  assert.equal(again.checkedAgoMs, 0);
});

Deno.test("health lists the versions of production packages only", async () => {
  const { body } = await health(testEnv());
  for (const name of DEVELOPMENT_ONLY_PACKAGES) {
    assert.equal(body.versions[name], undefined, `${name} is a development tool`);
  }
  // Every package listed is imported by code that runs in the deployed function.
  const runtimeSources: string[] = [];
  const walk = async (dir: URL) => {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isDirectory && entry.name !== "cli") {
        await walk(new URL(`${entry.name}/`, dir));
      } else if (entry.name.endsWith(".ts")) {
        runtimeSources.push(await Deno.readTextFile(new URL(entry.name, dir)));
      }
    }
  };
  await walk(new URL("../functions/", import.meta.url));
  const source = runtimeSources.join("\n");
  assert.ok(Object.keys(body.versions).length > 0);
  for (const name of Object.keys(body.versions)) {
    assert.ok(
      source.includes(`from "${name}`) || source.includes(`import("${name}`),
      `${name} is imported by runtime code`,
    );
  }
});

Deno.test("in dev mode an unset CLERK_SECRET_KEY is optional, and anywhere else a problem", async (t) => {
  const clerkProblem = (env: Env) =>
    allProblems(parseSettings(testEnv(env))).filter((p) => p.startsWith("CLERK_SECRET_KEY"));
  await t.step("cloud mode names it", () => {
    assert.equal(clerkProblem({ CLERK_SECRET_KEY: undefined }).length, 1);
  });
  await t.step("dev mode leaves it out while it is unset", () => {
    assert.deepEqual(clerkProblem({ CLERK_SECRET_KEY: undefined, INNGEST_DEV: "1" }), []);
  });
  await t.step("dev mode still names a key that is set but wrong", () => {
    assert.equal(clerkProblem({ CLERK_SECRET_KEY: "not-a-key", INNGEST_DEV: "1" }).length, 1);
  });
});
