/**
 * reconcile-users-with-clerk repairs the Clerk Billing mirror from Clerk's
 * Backend API: it lists every subscription item, applies them with the
 * webhook path's rules, asks for the subscription of each payer whose items
 * the listing did not show or whose stored subscription is missing or older
 * than its items, and ends at once on an instance without Clerk Billing. Counted by what the code really sent to the stand-in.
 */
import assert from "node:assert/strict";
import type postgres from "postgres";
import type { App } from "../functions/app.ts";
import { ClerkBudgetExhaustedError } from "../functions/clerk/backend_api.ts";
import { configuredClerkApi } from "../functions/clerk/configured_api.ts";
import { parseClerkApi } from "../functions/settings/clerk_api.ts";
import { RECONCILE_FUNCTION_ID } from "../functions/reconcile/reconcile_function.ts";
import { appAt } from "./support/app.ts";
import { type ClerkApi, startClerkApi } from "./support/clerk_api.ts";
import { captureLogs, TEST_SIGNING_KEY } from "./support/env.ts";
import { type EventApi, startEventApi } from "./support/event_api.ts";
import { driveRun } from "./support/inngest_cloud.ts";
import { type Postgrest, withPostgrest } from "./support/postgrest.ts";
import { newId } from "./support/organizations.ts";
import {
  billingEventData,
  type BillingStandIn,
  billingStoreAt,
  billingTestId,
  itemRow,
  itemsBatch,
  payerHasPlan,
  readItem,
  serveBilling,
  subscriptionsBatch,
} from "./support/clerk_billing.ts";

const PAGE_SIZE = 20;
const DAY = 24 * 60 * 60 * 1000;

interface Harness {
  sql: postgres.Sql;
  postgrest: Postgrest;
  clerk: ClerkApi;
  billing: BillingStandIn;
  events: EventApi;
  app: App;
  logs: string[];
}

async function withHarness(fn: (h: Harness) => Promise<void>) {
  await withPostgrest(async (sql, postgrest) => {
    // Clerk's stand-in has no users or organizations: the other parts of
    // the run find nothing to do, and nothing of theirs to tombstone.
    await sql`truncate public.users, public.organizations, public.organization_memberships,
                       public.billing_subscriptions, public.billing_subscription_items,
                       public.billing_payment_attempts`;
    const clerk = startClerkApi({ rateLimit: undefined });
    clerk.rateLimit = undefined;
    const billing = serveBilling(clerk);
    const events = startEventApi();
    const { logger, lines } = captureLogs();
    try {
      const app = appAt(postgrest, {
        CLERK_API_URL: clerk.url,
        CLERK_API_REQUEST_BUDGET: "1000/1s",
        INNGEST_EVENT_API_BASE_URL: events.url,
      }, { logger, reconcile: { pageSize: PAGE_SIZE, confirmBatchSize: 3 } });
      await fn({ sql, postgrest, clerk, billing, events, app, logs: lines });
    } finally {
      await Promise.all([clerk.close(), events.close()]);
    }
  });
}

function reconcile(app: App, data: Record<string, unknown> = {}) {
  return driveRun({
    handler: app.handler,
    functionId: RECONCILE_FUNCTION_ID,
    event: {
      id: crypto.randomUUID(),
      name: "clerk-events/reconcile.requested",
      data,
      ts: Date.now(),
    },
    signingKey: TEST_SIGNING_KEY,
    maxRequests: 2_000,
  }).then((outcome) => outcome.result as { runId: string; status: string });
}

/** Puts an item of `payer` in Clerk, created `created` ms after a base. */
function putItem(
  billing: BillingStandIn,
  payer: string,
  created: number,
  patch: Record<string, unknown> = {},
): Record<string, unknown> {
  const data: Record<string, unknown> = {
    ...billingEventData("subscriptionItem.active", payer, 1_700_000_000_000 + created),
    id: billingTestId("csub_item"),
    created_at: 1_700_000_000_000 + created,
    period_end: Date.now() + 30 * DAY,
    ...patch,
  };
  delete data.payer;
  billing.items.set(data.id as string, { payer, data });
  return data;
}

const billingRequests = (clerk: ClerkApi) =>
  clerk.accepted().filter((r) => r.path.includes("/billing/"));

Deno.test("reconcile backfills the billing items of users and organizations from Clerk", async (t) => {
  await withHarness(async (h) => {
    const payers = Array.from({ length: 15 }, (_, i) => newId(i % 3 ? "user" : "org"));
    const items = payers.flatMap((payer, i) => [
      putItem(h.billing, payer, i * 10, {
        plan: { id: "cplan_free", slug: i % 3 ? "free_user" : "free_org", amount: 0 },
        period_end: null,
      }),
      putItem(h.billing, payer, i * 10 + 1, i % 2 ? {} : { status: "canceled" }),
      putItem(h.billing, payer, i * 10 + 2, { status: "ended", plan: { id: "p", slug: "old" } }),
    ]);
    // Every payer has its subscription in Clerk, as newly known as its items.
    for (const payer of payers) {
      h.billing.subscriptions.set(payer, {
        object: "commerce_subscription",
        id: billingTestId("csub"),
        status: "active",
        active_at: 1_700_000_000_000,
        past_due_at: null,
        updated_at: 1_700_000_001_000,
      });
    }

    await t.step("every item lands under its payer, free plans included", async () => {
      const run = await reconcile(h.app);
      assert.equal(run.status, "succeeded");
      for (const item of items) {
        const row = await readItem(h.sql, item.id as string);
        const payer = h.billing.items.get(item.id as string)!.payer;
        assert.equal(row?.status, item.status, item.id as string);
        assert.equal(row?.payer_organization_id, payer.startsWith("org_") ? payer : null);
        assert.equal(row?.payer_user_id, payer.startsWith("org_") ? null : payer);
      }
      assert.equal(await payerHasPlan(h.sql, payers[1], "pro"), true);
      assert.equal(await payerHasPlan(h.sql, payers[1], "free_user"), true);
      const [runRow] = await h.sql`select billing_items_listed, billing_items_inserted
                                     from public.clerk_sync_runs where id = ${run.runId}`;
      // 45 listed, and again in the subscriptions a backfill asks for (below).
      assert.deepEqual(runRow, { billing_items_listed: 90, billing_items_inserted: 45 });
    });

    await t.step("it reads the listing in pages of 20, newest first, and asks nothing else", () => {
      const requests = billingRequests(h.clerk).filter((r) => !r.path.endsWith("/subscription"));
      assert.deepEqual(
        requests.map((r) => [r.path, r.query.offset, r.query.limit, r.query.include_free]),
        [0, 20, 40].map((offset) => [
          "/v1/billing/subscription_items",
          String(offset),
          "20",
          "true",
        ]),
      );
    });

    await t.step("a backfill asks each payer once for the subscription it lacks", async () => {
      const asked = billingRequests(h.clerk).filter((r) => r.path.endsWith("/subscription"));
      assert.equal(asked.length, payers.length);
      const [{ count }] = await h.sql`select count(*)::int as count
                                        from public.billing_subscriptions`;
      assert.equal(count, payers.length);
    });

    await t.step("a second run changes nothing", async () => {
      const before = await h.sql`select id, updated_at from public.billing_subscription_items
                                  order by id`;
      const requests = h.clerk.requests.length;
      const run = await reconcile(h.app);
      const [runRow] = await h.sql`select billing_items_listed, billing_items_unchanged
                                     from public.clerk_sync_runs where id = ${run.runId}`;
      assert.deepEqual(runRow, { billing_items_listed: 45, billing_items_unchanged: 45 });
      assert.ok(
        !h.clerk.requests.slice(requests).some((r) => r.path.endsWith("/subscription")),
        "no payer is asked again",
      );
      assert.deepEqual(
        await h.sql`select id, updated_at from public.billing_subscription_items order by id`,
        before,
      );
    });
  });
});

Deno.test("reconcile repairs stale items and leaves newer ones alone", async (t) => {
  await withHarness(async (h) => {
    const store = billingStoreAt(h.postgrest);
    const user = newId("user");
    // A missed subscriptionItem.canceled: Clerk's version is newer.
    const missed = putItem(h.billing, user, 1, {
      status: "canceled",
      canceled_at: 1_700_000_000_500,
      updated_at: 1_700_000_000_500,
    });
    await store.apply(itemsBatch(itemRow(missed.id as string, user, 100)));
    // A webhook that landed after Clerk's list was read: ours is newer.
    const fresh = putItem(h.billing, user, 2, { updated_at: 1_700_000_000_200 });
    await store.apply(itemsBatch(
      itemRow(fresh.id as string, user, 900, { status: "past_due" }),
    ));

    await reconcile(h.app);
    await t.step("the missed cancellation is applied", async () => {
      const row = await readItem(h.sql, missed.id as string);
      assert.equal(row?.status, "canceled");
      assert.equal(row?.canceled_at?.getTime(), 1_700_000_000_500);
    });
    await t.step("the newer webhook version stays", async () => {
      assert.equal((await readItem(h.sql, fresh.id as string))?.status, "past_due");
    });
  });
});

Deno.test("reconcile asks Clerk for each payer whose live items it did not list", async (t) => {
  await withHarness(async (h) => {
    const store = billingStoreAt(h.postgrest);
    const [gone, none, listed] = [newId("user"), newId("org"), newId("user")];
    const stale = billingTestId("csub_item");
    const orphan = billingTestId("csub_item");
    const over = billingTestId("csub_item");
    // `gone`'s item ended in Clerk and left the listing; Clerk still has
    // its subscription. `none` has no subscription in Clerk any more.
    await store.apply(itemsBatch(
      itemRow(stale, gone, 1),
      itemRow(orphan, none, 1),
      itemRow(over, listed, 1, { status: "ended" }),
    ));
    // `listed` has its subscription stored, newer than its items.
    await store.apply(subscriptionsBatch({
      id: billingTestId("csub"),
      payer_user_id: listed,
      payer_organization_id: null,
      status: "active",
      active_at: null,
      past_due_at: null,
      clerk_updated_at: new Date(1_700_000_000_002).toISOString(),
    }));
    h.billing.subscriptions.set(gone, {
      object: "commerce_subscription",
      id: billingTestId("csub"),
      status: "active",
      active_at: 1_700_000_000_000,
      past_due_at: null,
      updated_at: 1_700_000_000_050,
    });
    putItem(h.billing, gone, 0, { id: stale, status: "ended", updated_at: 1_700_000_000_050 });
    h.billing.unlisted.add(stale);

    const run = await reconcile(h.app);
    await t.step("one request per payer with live items, none for ended ones", () => {
      const asked = billingRequests(h.clerk).map((r) => r.path).filter((p) =>
        p.endsWith("/subscription")
      );
      assert.deepEqual(
        asked.sort(),
        [
          `/v1/organizations/${none}/billing/subscription`,
          `/v1/users/${gone}/billing/subscription`,
        ].sort(),
      );
    });
    await t.step(
      "the answer is applied: the item ended, the subscription is mirrored",
      async () => {
        assert.equal((await readItem(h.sql, stale))?.status, "ended");
        const [subscription] = await h
          .sql`select status, payer_user_id from public.billing_subscriptions
                                          where payer_user_id = ${gone}`;
        assert.deepEqual(subscription, { status: "active", payer_user_id: gone });
      },
    );
    await t.step("a payer Clerk has no subscription for keeps its rows", async () => {
      assert.equal((await readItem(h.sql, orphan))?.status, "active");
      const [runRow] = await h.sql`select billing_payers_confirmed from public.clerk_sync_runs
                                    where id = ${run.runId}`;
      assert.equal(runRow.billing_payers_confirmed, 2);
    });
  });
});

Deno.test("a subscription Clerk stamped before its items is asked for once per change, not every night", async (t) => {
  await withHarness(async (h) => {
    const payer = newId("user");
    putItem(h.billing, payer, 5_000);
    // Clerk wrote the subscription a moment before the item it changed.
    h.billing.subscriptions.set(payer, {
      object: "commerce_subscription",
      id: billingTestId("csub"),
      status: "active",
      active_at: 1_700_000_000_000,
      past_due_at: null,
      updated_at: 1_700_000_004_990,
    });
    const asked = () =>
      billingRequests(h.clerk).filter((r) => r.path.endsWith("/subscription")).length;

    await t.step("the first run asks for it, and stores it", async () => {
      await reconcile(h.app);
      assert.equal(asked(), 1);
      const rows = await h.sql`select status from public.billing_subscriptions
                                where payer_user_id = ${payer}`;
      assert.deepEqual(rows.map((r) => r.status), ["active"]);
    });

    await t.step(
      "the next runs do not ask again: the answer is still older than the item",
      async () => {
        await reconcile(h.app);
        await reconcile(h.app);
        assert.equal(asked(), 1);
      },
    );

    await t.step("a newer item makes the next run ask once more", async () => {
      putItem(h.billing, payer, 9_000);
      await reconcile(h.app);
      await reconcile(h.app);
      assert.equal(asked(), 2);
    });
  });
});

Deno.test("reconcile skips Clerk Billing on an instance without it, and still succeeds", async () => {
  await withHarness(async (h) => {
    h.billing.unavailable = 404;
    const store = billingStoreAt(h.postgrest);
    const [id, user] = [billingTestId("csub_item"), newId("user")];
    await store.apply(itemsBatch(itemRow(id, user, 1)));
    const run = await reconcile(h.app);
    assert.equal(run.status, "succeeded");
    assert.deepEqual(billingRequests(h.clerk).map((r) => r.path), [
      "/v1/billing/subscription_items",
    ], "one listing request, and no payer asked");
    assert.equal((await readItem(h.sql, id))?.status, "active", "the mirror is left as it is");
    assert.ok(h.logs.some((line) => line.includes("Reconcile billing skipped")));
  });
});

Deno.test("reconcile counts listed items that name no payer, and places none", async () => {
  await withHarness(async (h) => {
    h.billing.listPayers = false;
    const item = putItem(h.billing, newId("user"), 1);
    const run = await reconcile(h.app);
    assert.equal(run.status, "succeeded");
    assert.equal(await readItem(h.sql, item.id as string), undefined);
    const warning = h.logs.map((line) => JSON.parse(line)).find((r) =>
      r.msg === "Reconcile billing items without a payer"
    );
    assert.equal(warning?.unplaced, 1);
  });
});

Deno.test("a dry run counts billing repairs without writing them", async () => {
  await withHarness(async (h) => {
    const item = putItem(h.billing, newId("user"), 1);
    const run = await reconcile(h.app, { dryRun: true });
    const [runRow] = await h.sql`select billing_items_listed, billing_items_inserted
                                   from public.clerk_sync_runs where id = ${run.runId}`;
    assert.deepEqual(runRow, { billing_items_listed: 1, billing_items_inserted: 1 });
    assert.equal(await readItem(h.sql, item.id as string), undefined);
  });
});

Deno.test("the billing calls spend the app's one Clerk request budget", async () => {
  const clerk = startClerkApi({ rateLimit: undefined });
  serveBilling(clerk);
  try {
    // 4 per minute, 2 of them kept for on-demand syncs: the reconcile's
    // share is 2, and the users' and organizations' first pages spend it.
    const api = await configuredClerkApi(
      parseClerkApi({
        CLERK_SECRET_KEY: clerk.secretKey,
        CLERK_API_URL: clerk.url,
        CLERK_API_REQUEST_BUDGET: "4/60s",
      }),
      "Cannot reach Clerk",
    );
    await api.listUsers({ limit: 10, offset: 0, orderBy: "+created_at" });
    await api.listOrganizations({ limit: 10, offset: 0 });
    await assert.rejects(
      api.listSubscriptionItems({ limit: 10, offset: 0 }),
      ClerkBudgetExhaustedError,
    );
    await assert.rejects(api.getPayerSubscription({ userId: "user_1" }), ClerkBudgetExhaustedError);
    assert.deepEqual(
      clerk.requests.map((r) => r.path),
      ["/v1/users", "/v1/organizations"],
      "nothing was sent past the budget",
    );
  } finally {
    await clerk.close();
  }
});
