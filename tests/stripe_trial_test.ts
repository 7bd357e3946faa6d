/**
 * The Stripe trial, driven through the real serve route by the Inngest
 * engine (which plays by the functions' registered flow control, the shared
 * per-user concurrency key included) against a Stripe stand-in that honours
 * idempotency keys the way Stripe does, on a simulated clock. Every claim is
 * counted from what the stand-in received.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type postgres from "postgres";
import type { App } from "../functions/app.ts";
import { renderTrialOffer, trialEndDate } from "../functions/email/templates/trial_offer.ts";
import { templateInput } from "../functions/email/templates/email.ts";
import { type Env, parseSettings } from "../functions/settings.ts";
import { buildFunction, importSpecifiers } from "../scripts/build.ts";
import { appAt } from "./support/app.ts";
import { clerkPayload, type FixtureType, newMessageId, newUserId } from "./support/clerk.ts";
import { asRole } from "./support/database.ts";
import { healthDetailsRequest, TEST_SIGNING_KEY, testEnv } from "./support/env.ts";
import { type InngestEngine, startInngestEngine } from "./support/inngest_engine.ts";
import type { RunEvent } from "./support/inngest_cloud.ts";
import { type Postgrest, withPostgrest } from "./support/postgrest.ts";
import { type ResendApi, startResendApi } from "./support/resend_api.ts";
import { type SimClock, simClock } from "./support/sim_clock.ts";
import {
  IDEMPOTENCY_KEY_TTL_MS,
  startStripeApi,
  type StripeApi,
  type StripeRequest,
} from "./support/stripe_api.ts";

const STRIPE_SECRET_KEY = "sk_test_" + "51standin".repeat(4);
const STRIPE_TRIAL_PRICE_ID = "price_1TrialStandIn";
const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;

interface World {
  sql: postgres.Sql;
  postgrest: Postgrest;
  stripe: StripeApi;
  resend: ResendApi;
  app: App;
  engine: InngestEngine;
  clock: SimClock;
}

/** The Stripe settings pointing at `stripe`, for the app. */
function stripeEnv(stripe: StripeApi): Env {
  return { STRIPE_SECRET_KEY, STRIPE_TRIAL_PRICE_ID, STRIPE_API_URL: stripe.url };
}

async function withWorld(fn: (w: World) => Promise<void>) {
  await withPostgrest(async (sql, postgrest) => {
    // Simulated time starts now, so that a trial that Stripe ends in 14
    // simulated days is still running by the real clock the email reads.
    const clock = simClock(Date.now());
    const stripe = startStripeApi({ secretKey: STRIPE_SECRET_KEY, now: clock.now });
    const resend = startResendApi({ now: clock.now });
    try {
      const app = appAt(postgrest, { RESEND_BASE_URL: resend.url, ...stripeEnv(stripe) });
      const engine = await startInngestEngine({
        handler: app.handler,
        signingKey: TEST_SIGNING_KEY,
        clock,
      });
      await fn({ sql, postgrest, stripe, resend, app, engine, clock });
    } finally {
      await resend.close();
      await stripe.close();
    }
  });
}

function clerkEvent(type: FixtureType, data: Record<string, unknown>, ts?: number): RunEvent {
  const payload = clerkPayload(type, data);
  return {
    id: newMessageId(),
    name: `clerk/${type}`,
    data: payload.data,
    ts: ts ?? payload.timestamp,
  };
}

/** A user.updated for `id` at Clerk version `updatedAt`, with a new primary address. */
function addressChange(id: string, email: string, updatedAt: number): RunEvent {
  return clerkEvent("user.updated", {
    id,
    updated_at: updatedAt,
    primary_email_address_id: "idn_new",
    email_addresses: [{ id: "idn_new", email_address: email }],
  });
}

/** Every Stripe function run of `userId` finished without failing. */
function assertRunsSucceeded(engine: InngestEngine, userId: string) {
  const mine = engine.runs.filter((r) =>
    r.functionId.includes("stripe") && r.event.data.id === userId
  );
  assert.ok(mine.length > 0, `Stripe runs for ${userId}`);
  for (const run of mine) {
    assert.equal(run.status, "completed", `${run.functionId}: ${run.reason ?? run.status}`);
  }
}

/** One line of the life table: method, path, key and the parameters that matter. */
function describe(r: StripeRequest): string {
  const params = Object.entries(r.params)
    .map(([name, value]) => `${name}=${value.replace("@", "(at)")}`)
    .join(" ");
  const answer = r.lost
    ? `${r.status}, answer lost`
    : r.replayed
    ? `${r.status}, replayed`
    : r.status;
  return `${r.method} ${r.path} [${r.idempotencyKey ?? "no key"}] ${params} -> ${answer}`;
}

async function billingRow(sql: postgres.Sql, userId: string) {
  const [row] = await sql<
    {
      stripe_customer_id: string | null;
      stripe_subscription_id: string | null;
      trial_ends_at: Date | null;
      deleted_at: Date | null;
    }[]
  >`select stripe_customer_id, stripe_subscription_id, trial_ends_at, deleted_at
      from public.billing_customers where user_id = ${userId}`;
  return row;
}

Deno.test("one user's whole life at Stripe: sign-up, a lost answer, an address change, deletion", async () => {
  await withWorld(async ({ sql, stripe, resend, engine, clock }) => {
    const id = newUserId();
    const customerKey = `clerk-events/stripe-customer/${id}`;
    // The first create's answer is lost after Stripe did the work.
    stripe.fault = (r) =>
      r.idempotencyKey === customerKey && !stripe.received.some((o) => o !== r && o.lost)
        ? { lose: true }
        : undefined;

    const signUp = clock.now();
    engine.send(clerkEvent("user.created", { id }));
    await engine.runUntilIdle();
    stripe.fault = () => undefined;
    assertRunsSucceeded(engine, id);

    const [customer] = stripe.customersOf(id);
    assert.equal(stripe.customersOf(id).length, 1, "one customer, although the answer was lost");
    assert.equal(customer.email, "example@example.org", "the primary address, not the first one");
    assert.equal(customer.name, "Example Example");
    const subscriptions = [...stripe.subscriptions.values()].filter((s) =>
      s.customer === customer.id
    );
    assert.equal(subscriptions.length, 1, "one subscription");
    assert.equal(subscriptions[0].price, STRIPE_TRIAL_PRICE_ID);
    assert.equal(subscriptions[0].trialPeriodDays, 14, "TRIAL_DAYS' default");
    assert.equal(subscriptions[0].missingPaymentMethod, "cancel");
    const row = await billingRow(sql, id);
    assert.equal(row.stripe_customer_id, customer.id);
    assert.equal(row.stripe_subscription_id, subscriptions[0].id);
    assert.equal(row.trial_ends_at?.getTime(), subscriptions[0].trialEnd * 1000);

    // The three-day email says the trial is running, and when it ends.
    const offer = resend.received.find((r) =>
      r.idempotencyKey === `clerk-events/trial_offer/${id}`
    );
    assert.ok(offer, "the trial offer went out");
    const ends = trialEndDate(new Date(subscriptions[0].trialEnd * 1000).toISOString());
    assert.equal(offer.subject, `Example, your Acme Pro trial runs until ${ends}`);
    assert.ok(JSON.parse(offer.body).text.includes("https://acme.test/upgrade"));

    engine.send(addressChange(id, "new.address@example.org", signUp + HOUR));
    await engine.runUntilIdle();
    assert.equal(customer.email, "new.address@example.org");

    engine.send(clerkEvent("user.deleted", { id }, clock.now()));
    await engine.runUntilIdle();
    assertRunsSucceeded(engine, id);
    assert.deepEqual(stripe.liveCustomersOf(id), [], "no customer survives the user");
    const deleted = await billingRow(sql, id);
    assert.ok(deleted.deleted_at, "the row is a tombstone");
    assert.equal(deleted.stripe_customer_id, customer.id, "that keeps its Stripe ids");
    assert.equal(deleted.stripe_subscription_id, subscriptions[0].id);

    const life = stripe.requestsOf(id);
    console.log(`Stripe requests for one user's life:\n${life.map(describe).join("\n")}`);
    assert.deepEqual(
      life.map((r) => [r.method, r.path.replace(customer.id, "{id}"), r.idempotencyKey, r.status]),
      [
        ["POST", "/v1/customers", customerKey, 200],
        ["POST", "/v1/customers", customerKey, 200],
        ["POST", "/v1/subscriptions", `clerk-events/stripe-trial/${id}`, 200],
        [
          "POST",
          "/v1/customers/{id}",
          `clerk-events/stripe-customer-update/${id}/${signUp + HOUR}`,
          200,
        ],
        ["DELETE", "/v1/customers/{id}", null, 200],
      ],
    );
    assert.deepEqual([life[0].lost, life[1].replayed], [true, true]);
    assert.equal(life[0].params["metadata[clerk_user_id]"], id);
    assert.equal(life[2].params["trial_settings[end_behavior][missing_payment_method]"], "cancel");
  });
});

Deno.test("exactly once: replays and retries create nothing new", async (t) => {
  await withWorld(async ({ stripe, engine, clock }) => {
    await t.step(
      "a user.created replayed past 24 hours is stopped by the recorded row",
      async () => {
        const id = newUserId();
        const event = clerkEvent("user.created", { id });
        engine.send(event);
        await engine.runUntilIdle();
        const before = stripe.requestsOf(id).length;
        // Inngest's idempotency key and Stripe's have both expired by now.
        clock.advance(IDEMPOTENCY_KEY_TTL_MS + HOUR);
        engine.send({ ...event, id: newMessageId() });
        await engine.runUntilIdle();
        const runs = engine.runsOf("start-stripe-trial").filter((r) => r.event.data.id === id);
        assert.equal(runs.length, 2, "a second run started");
        assert.deepEqual(runs[1].result, {
          userId: id,
          customer: "existing",
          trial: "existing",
          catchUp: "current",
        });
        assert.equal(stripe.requestsOf(id).length, before, "and sent nothing to Stripe");
        assert.equal(stripe.customersOf(id).length, 1);
      },
    );

    await t.step("a 500 on the subscription is retried under the same key", async () => {
      const id = newUserId();
      const key = `clerk-events/stripe-trial/${id}`;
      stripe.fault = (r) =>
        r.idempotencyKey === key &&
          !stripe.received.some((o) => o !== r && o.idempotencyKey === key)
          ? { status: 500 }
          : undefined;
      engine.send(clerkEvent("user.created", { id }));
      await engine.runUntilIdle();
      stripe.fault = () => undefined;
      assertRunsSucceeded(engine, id);
      const attempts = stripe.received.filter((r) => r.idempotencyKey === key);
      assert.deepEqual(attempts.map((r) => r.status), [500, 200]);
      assert.equal(attempts[0].params.customer, attempts[1].params.customer);
    });
  });
});

Deno.test("no customer survives a deleted user, and none is created for one", async (t) => {
  await withWorld(async ({ sql, stripe, engine }) => {
    await t.step("after user.deleted, a later user.created sends nothing to Stripe", async () => {
      const id = newUserId();
      engine.send(clerkEvent("user.deleted", { id }));
      await engine.runUntilIdle();
      engine.send(clerkEvent("user.created", { id }));
      await engine.runUntilIdle();
      assertRunsSucceeded(engine, id);
      assert.deepEqual(stripe.requestsOf(id).map(describe), [], "no request about the user");
      assert.ok((await billingRow(sql, id)).deleted_at);
    });

    await t.step(
      "a user deleted while the create's answer was lost: the retry finds the customer and deletes it",
      async () => {
        const id = newUserId();
        const key = `clerk-events/stripe-customer/${id}`;
        stripe.fault = (r) =>
          r.idempotencyKey === key &&
            !stripe.received.some((o) => o !== r && o.idempotencyKey === key)
            ? { lose: true }
            : undefined;
        engine.send(clerkEvent("user.created", { id }));
        await engine.runUntilIdle({
          stopWhen: () => stripe.received.some((r) => r.idempotencyKey === key),
        });
        // The customer exists at Stripe, and nobody has recorded it yet.
        engine.send(clerkEvent("user.deleted", { id }));
        await engine.runUntilIdle();
        stripe.fault = () => undefined;
        assertRunsSucceeded(engine, id);
        assert.equal(stripe.customersOf(id).length, 1, "the retry replayed, not created");
        assert.deepEqual(stripe.liveCustomersOf(id), [], "and the customer is deleted");
        const deletes = stripe.requestsOf(id).filter((r) => r.method === "DELETE");
        assert.equal(deletes.length, 1);
        assert.ok(!stripe.requestsOf(id).some((r) => r.path === "/v1/subscriptions"));
      },
    );

    await t.step("user.created and user.deleted at once, in either order", async () => {
      for (const order of [["user.created", "user.deleted"], ["user.deleted", "user.created"]]) {
        const id = newUserId();
        engine.send(...order.map((type) => clerkEvent(type as FixtureType, { id })));
        await engine.runUntilIdle();
        assertRunsSucceeded(engine, id);
        assert.deepEqual(stripe.liveCustomersOf(id), [], `no live customer (${order})`);
        assert.ok((await billingRow(sql, id)).deleted_at);
      }
    });
  });
});

Deno.test("an address or name change follows the user, newest first", async (t) => {
  await withWorld(async ({ stripe, engine, clock }) => {
    await t.step("an older user.updated after a newer one is not sent", async () => {
      const id = newUserId();
      const signUp = clock.now();
      engine.send(clerkEvent("user.created", { id }));
      await engine.runUntilIdle();
      engine.send(addressChange(id, "third@example.org", signUp + 3 * HOUR));
      await engine.runUntilIdle();
      engine.send(addressChange(id, "second@example.org", signUp + 2 * HOUR));
      await engine.runUntilIdle();
      const [customer] = stripe.customersOf(id);
      assert.equal(customer.email, "third@example.org");
      const updates = stripe.requestsOf(id).filter((r) =>
        r.path === `/v1/customers/${customer.id}`
      );
      assert.equal(updates.length, 1, "only the newest version was sent");
    });

    await t.step("a change that arrives before the customer exists is caught up", async () => {
      const id = newUserId();
      const signUp = clock.now();
      engine.send(
        addressChange(id, "changed@example.org", signUp + HOUR),
        clerkEvent("user.created", { id, updated_at: signUp }),
      );
      await engine.runUntilIdle();
      assertRunsSucceeded(engine, id);
      const [customer] = stripe.customersOf(id);
      assert.equal(customer.email, "changed@example.org");
      assert.equal(stripe.customersOf(id).length, 1);
    });

    await t.step("a deleted user's customer is never updated", async () => {
      const id = newUserId();
      engine.send(clerkEvent("user.created", { id }));
      await engine.runUntilIdle();
      engine.send(clerkEvent("user.deleted", { id }));
      await engine.runUntilIdle();
      const before = stripe.requestsOf(id).length;
      engine.send(addressChange(id, "late@example.org", clock.now() + DAY));
      await engine.runUntilIdle();
      assert.equal(stripe.requestsOf(id).length, before);
    });
  });
});

Deno.test("the Stripe stand-in keeps Stripe's idempotency rules", async () => {
  const clock = simClock();
  const stripe = startStripeApi({ secretKey: STRIPE_SECRET_KEY, now: clock.now });
  try {
    const create = (key: string, email: string) =>
      fetch(`${stripe.url}/v1/customers`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${STRIPE_SECRET_KEY}`,
          "idempotency-key": key,
          "content-type": "application/x-www-form-urlencoded",
        },
        body: new URLSearchParams({ email, "metadata[clerk_user_id]": "user_x" }),
      }).then(async (res) => ({ status: res.status, body: await res.json() }));
    const first = await create("k", "a@example.org");
    const replay = await create("k", "a@example.org");
    assert.equal(replay.body.id, first.body.id, "same key and parameters: the first answer");
    const other = await create("k", "b@example.org");
    assert.equal(other.status, 400);
    assert.equal(other.body.error.type, "idempotency_error");
    clock.advance(IDEMPOTENCY_KEY_TTL_MS);
    const later = await create("k", "b@example.org");
    assert.notEqual(later.body.id, first.body.id, "a key is forgotten after 24 hours");
    assert.equal(stripe.received.length, 4, "every request is recorded");
    assert.equal(stripe.customersOf("user_x").length, 2);
  } finally {
    await stripe.close();
  }
});

Deno.test("without Stripe settings the trial is off, and /health says so", async (t) => {
  const health = async (env: Env) => {
    const app = appAt({ url: "http://127.0.0.1:9", serviceKey: "k" }, env);
    const res = await app.handler(healthDetailsRequest());
    return { app, body: await res.json() };
  };
  await t.step("both unset: off, not a problem, no Stripe function", async () => {
    const { app, body } = await health({});
    assert.match(body.optional_features.stripe_trial, /^off: /);
    assert.equal(body.settings.STRIPE_SECRET_KEY, "missing");
    assert.ok(!body.problems.some((p: string) => p.startsWith("STRIPE_")));
    assert.ok(!app.functions.some((f) => f.id().includes("stripe")));
  });
  await t.step("only one set: a problem naming the other", async () => {
    const { body } = await health({ STRIPE_SECRET_KEY });
    assert.equal(body.optional_features.stripe_trial, "invalid (see problems)");
    assert.ok(body.problems.some((p: string) => p.startsWith("STRIPE_TRIAL_PRICE_ID is missing")));
    assert.ok(!JSON.stringify(body).includes(STRIPE_SECRET_KEY), "never the key's value");
  });
  await t.step("both set: on, with the three functions and the sweep", async () => {
    const { app, body } = await health({ STRIPE_SECRET_KEY, STRIPE_TRIAL_PRICE_ID });
    assert.equal(body.optional_features.stripe_trial, "on");
    assert.equal(body.settings.STRIPE_TRIAL_PRICE_ID, "present");
    assert.deepEqual(
      app.functions.map((f) => f.id()).filter((id) => id.includes("stripe")).sort(),
      [
        "delete-stripe-customer",
        "start-stripe-trial",
        "stripe-customer-sweep",
        "update-stripe-customer",
      ],
    );
  });
  await t.step("TRIAL_DAYS is the email copy's setting", () => {
    const settings = parseSettings(
      testEnv({ STRIPE_SECRET_KEY, STRIPE_TRIAL_PRICE_ID, TRIAL_DAYS: "30" }),
    );
    assert.ok(settings.stripe.ok && settings.stripe.value && settings.email.ok);
    assert.equal(settings.stripe.value.trialDays, 30);
    assert.equal(settings.email.value.copy.trialDays, 30);
  });
});

Deno.test("the trial offer tells a running trial, and offers one without", () => {
  const group = parseSettings(testEnv()).email;
  assert.ok(group.ok);
  const offer = renderTrialOffer(templateInput(group.value, { firstName: "Ada" }));
  assert.equal(offer.subject, "Ada, try Acme Pro free for 14 days");
  const running = renderTrialOffer(
    templateInput(group.value, { firstName: "Ada", trialEndsAt: "2026-12-16T09:30:00Z" }),
  );
  assert.equal(running.subject, "Ada, your Acme Pro trial runs until December 16, 2026");
  assert.ok(running.text.includes("https://acme.test/upgrade"));
  assert.doesNotMatch(running.text, /try Acme Pro free|Start your free trial/);
});

Deno.test("row level security: a user reads their own billing row, only the service role writes", async () => {
  await withPostgrest(async (sql) => {
    const alice = newUserId();
    const bob = newUserId();
    await sql`select public.record_stripe_customer(${alice}, 'cus_alice', now())`;
    await sql`select public.record_stripe_customer(${bob}, 'cus_bob', now())`;
    const read = (sub?: string) =>
      asRole(
        sql,
        "authenticated",
        sub ? { sub } : {},
        (tx) =>
          tx`select user_id from public.billing_customers where user_id in (${alice}, ${bob})`,
      );
    assert.deepEqual((await read(alice)).map((r) => r.user_id), [alice]);
    assert.equal((await read()).length, 0);
    await assert.rejects(
      asRole(sql, "anon", {}, (tx) => tx`select 1 from public.billing_customers`),
      /permission denied/,
    );
    await assert.rejects(
      asRole(
        sql,
        "authenticated",
        { sub: alice },
        (tx) =>
          tx`update public.billing_customers set stripe_customer_id = 'x' where user_id = ${alice}`,
      ),
      /permission denied/,
    );
    await assert.rejects(
      asRole(
        sql,
        "authenticated",
        { sub: alice },
        (tx) => tx`select public.tombstone_billing_customer(${alice})`,
      ),
      /permission denied for function/,
    );
  });
});

Deno.test("the Stripe SDK is a chunk of its own, outside the webhook path's static imports", async () => {
  const outDir = await Deno.makeTempDir({ prefix: "clerk_events_stripe_build_" });
  try {
    const build = await buildFunction(outDir);
    const read = (file: string) => Deno.readTextFile(join(outDir, file));
    // The SDK's own marker: its fetch client's name.
    const isSdk = (code: string) => code.includes("createFetchHttpClient");
    const sdkChunks: string[] = [];
    for (const file of build.files) if (isSdk(await read(file))) sdkChunks.push(file);
    assert.equal(sdkChunks.length, 1, `the SDK is in one chunk: ${sdkChunks.join(", ")}`);

    // Everything index.js loads before it answers: its static imports, transitively.
    const loaded = new Set<string>();
    const visit = async (file: string) => {
      if (loaded.has(file)) return;
      loaded.add(file);
      for (const specifier of importSpecifiers(await read(file)).static) {
        if (specifier.startsWith("./")) await visit(specifier.slice(2));
      }
    };
    await visit("index.js");
    assert.ok(!loaded.has(sdkChunks[0]), "the entry does not load the SDK statically");
    const dynamicallyLoaded = await Promise.all(
      build.files.map(async (file) => importSpecifiers(await read(file)).dynamic),
    );
    assert.ok(dynamicallyLoaded.flat().includes(`./${sdkChunks[0]}`), "it loads with import()");
  } finally {
    await Deno.remove(outDir, { recursive: true });
  }
});
