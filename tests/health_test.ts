import assert from "node:assert/strict";
import { createApp } from "../functions/app.ts";
import { SETTING_NAMES } from "../functions/settings.ts";
import { clerkPayload, signedRequest } from "./support/clerk.ts";
import { captureLogs, testEnv } from "./support/env.ts";
import { startEventApi } from "./support/event_api.ts";
import { withPostgrest } from "./support/postgrest.ts";
import type { Env } from "../functions/settings.ts";

async function health(env: Env) {
  const logs = captureLogs();
  const app = createApp(env, { logger: logs.logger });
  const res = await app.handler(new Request("http://localhost/clerk-events/health"));
  return { res, body: await res.json(), logs };
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
    assert.equal(body.database, "reachable");
    assert.equal(body.app, "clerk-events");
    assert.equal(body.mode, "cloud");
    assert.deepEqual(body.functions, [
      "sync-user-from-clerk",
      "delete-user-from-clerk",
      "onboarding-emails",
      "reconcile-users-with-clerk",
    ]);
    assert.equal(body.versions.inngest, "4.24.0");
    assert.deepEqual(Object.keys(body.settings), [...SETTING_NAMES]);
    assert.deepEqual(body.problems, []);
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

  await t.step("dev mode needs no Inngest keys", async () => {
    const { res, body } = await health(
      testEnv({
        ...reachable,
        INNGEST_DEV: "1",
        INNGEST_EVENT_KEY: undefined,
        INNGEST_SIGNING_KEY: undefined,
      }),
    );
    assert.equal(res.status, 200);
    assert.equal(body.mode, "dev");
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
}
