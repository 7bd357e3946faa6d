/**
 * One subscription's whole life through the billing workflows (driven by an
 * Inngest engine that plays by their registered flow control), the rows at
 * each stage and what has_plan answers; then the same life delivered in
 * other orders, with duplicates, and late: the rows end the same.
 *
 * The life, for a user and for an organization: created on the free plan,
 * a free trial of `pro`, the trial ending, paid, past due, paid again,
 * canceled (the free plan upcoming), ended (the free plan back).
 */
import assert from "node:assert/strict";
import type postgres from "postgres";
import { appAt } from "./support/app.ts";
import { TEST_SIGNING_KEY } from "./support/env.ts";
import { type InngestEngine, startInngestEngine } from "./support/inngest_engine.ts";
import type { RunEvent } from "./support/inngest_cloud.ts";
import { withPostgrest } from "./support/postgrest.ts";
import { random } from "./support/workload.ts";
import { newId } from "./support/organizations.ts";
import {
  billingEvent,
  billingEventData,
  billingTestId,
  hasPlan,
  payerHasPlan,
  payerRows,
  readItem,
  sessionClaims,
} from "./support/clerk_billing.ts";
import type { BillingEventType } from "../scripts/clerk_billing_payloads.ts";

const DAY = 24 * 60 * 60 * 1000;

/** A stage of the life: its events, and what the pro item and has_plan say after it. */
interface Stage {
  readonly name: string;
  readonly events: RunEvent[];
  readonly pro: { status: string; is_free_trial: boolean; period_end: number } | undefined;
  readonly free: string;
  readonly hasPro: boolean;
  readonly hasFree: boolean;
}

/**
 * The life of one payer's subscription. Clerk's clock (`updated_at`, the
 * envelope's `ts`) moves a minute per event from `start`; periods are set
 * around the real now, since has_plan asks the database's clock.
 */
function life(payer: string, start: number) {
  const now = Date.now();
  const ids = {
    subscription: billingTestId("csub"),
    free: billingTestId("csub_item"),
    pro: billingTestId("csub_item"),
    checkout: billingTestId("pa"),
    renewal: billingTestId("pa"),
    retry: billingTestId("pa"),
  };
  let clock = start;
  const event = (type: BillingEventType, patch: Record<string, unknown>): RunEvent => {
    clock += 60_000;
    const data = billingEventData(type, payer, clock, { updated_at: clock, ...patch });
    return billingEvent(type, data, clock + 250);
  };
  const freeItem = (status: string) => ({
    ...billingEventData("subscriptionItem.active", payer, clock, { payer: null }),
    id: ids.free,
    status,
    plan: { id: "cplan_free", slug: "free_user", amount: 0 },
    plan_id: "cplan_free",
    period_end: null,
    // Without updated_at: embedded in a subscription event it takes the
    // event's ts; in its own event, the event gives it one.
    updated_at: undefined,
  });
  const pro = (status: string, trial: boolean, periodEnd: number, extra = {}) => ({
    id: ids.pro,
    status,
    is_free_trial: trial,
    period_start: now - DAY,
    period_end: periodEnd,
    canceled_at: null,
    ...extra,
  });
  const trialEnd = now + 14 * DAY;
  const paidEnd = now + 30 * DAY;
  const nextEnd = now + 60 * DAY;
  const stage = (
    name: string,
    events: RunEvent[],
    proItem: Stage["pro"],
    free: string,
  ): Stage => ({
    name,
    events,
    pro: proItem,
    free,
    hasPro: proItem !== undefined &&
      (proItem.status === "active" || proItem.status === "canceled"),
    hasFree: free === "active",
  });
  const stages: Stage[] = [];
  stages.push(stage(
    "created",
    [
      event("subscription.created", { id: ids.subscription, items: [freeItem("active")] }),
    ],
    undefined,
    "active",
  ));
  stages.push(stage(
    "free trial",
    [
      event("subscriptionItem.active", pro("active", true, trialEnd)),
      event("subscriptionItem.ended", { ...freeItem("ended"), payer: undefined }),
      event("subscription.updated", { id: ids.subscription, items: [freeItem("ended")] }),
    ],
    { status: "active", is_free_trial: true, period_end: trialEnd },
    "ended",
  ));
  stages.push(stage(
    "trial ending",
    [
      event("subscriptionItem.freeTrialEnding", pro("active", true, trialEnd)),
    ],
    { status: "active", is_free_trial: true, period_end: trialEnd },
    "ended",
  ));
  stages.push(stage(
    "active",
    [
      event("paymentAttempt.created", { id: ids.checkout, status: "pending" }),
      event("paymentAttempt.updated", { id: ids.checkout, status: "paid" }),
      event("subscriptionItem.active", pro("active", false, paidEnd)),
    ],
    { status: "active", is_free_trial: false, period_end: paidEnd },
    "ended",
  ));
  stages.push(stage(
    "past due",
    [
      event("paymentAttempt.updated", {
        id: ids.renewal,
        status: "failed",
        failed_reason: { code: "card_declined", decline_code: "insufficient_funds" },
      }),
      event("subscriptionItem.pastDue", pro("past_due", false, paidEnd)),
      event("subscription.past_due", { id: ids.subscription, items: [] }),
    ],
    { status: "past_due", is_free_trial: false, period_end: paidEnd },
    "ended",
  ));
  stages.push(stage(
    "paid again",
    [
      event("paymentAttempt.updated", { id: ids.retry, status: "paid" }),
      event("subscriptionItem.active", pro("active", false, nextEnd)),
      event("subscription.active", { id: ids.subscription, items: [] }),
    ],
    { status: "active", is_free_trial: false, period_end: nextEnd },
    "ended",
  ));
  stages.push(stage(
    "canceled",
    [
      event("subscriptionItem.canceled", pro("canceled", false, nextEnd, { canceled_at: clock })),
      event("subscriptionItem.upcoming", { ...freeItem("upcoming"), payer: undefined }),
    ],
    { status: "canceled", is_free_trial: false, period_end: nextEnd },
    "upcoming",
  ));
  stages.push(stage(
    "ended",
    [
      event("subscriptionItem.ended", pro("ended", false, nextEnd)),
      event("subscriptionItem.active", { ...freeItem("active"), payer: undefined }),
    ],
    { status: "ended", is_free_trial: false, period_end: nextEnd },
    "active",
  ));
  // Item events name their payer; the free item's payer comes from the builder.
  for (const { events } of stages) {
    for (const e of events) {
      if (e.name.startsWith("clerk/subscriptionItem.") && !e.data.payer) {
        e.data.payer = billingEventData("subscriptionItem.active", payer, 0).payer;
      }
    }
  }
  return { ids, stages };
}

async function drive(engine: InngestEngine, events: RunEvent[]) {
  engine.send(...events);
  await engine.runUntilIdle();
  const failed = engine.runs.filter((run) => run.status === "failed");
  assert.deepEqual(failed.map((run) => `${run.functionId}: ${run.reason}`), []);
}

async function withEngine(
  fn: (sql: postgres.Sql, engine: () => Promise<InngestEngine>) => Promise<void>,
) {
  await withPostgrest(async (sql, postgrest) => {
    const app = appAt(postgrest);
    await fn(sql, () => startInngestEngine({ handler: app.handler, signingKey: TEST_SIGNING_KEY }));
  });
}

for (const kind of ["user", "organization"] as const) {
  Deno.test(`one subscription's life for ${kind === "user" ? "a user" : "an organization"}: the rows and has_plan at each stage`, async (t) => {
    await withEngine(async (sql, startEngine) => {
      const engine = await startEngine();
      const member = newId("user");
      const payer = kind === "user" ? member : newId("org");
      const { ids, stages } = life(payer, Date.now() - 30 * DAY);
      // An organization's plan is asked with it active in the session.
      const claims = sessionClaims(member, kind === "user" ? undefined : payer);
      for (const stage of stages) {
        await t.step(
          `${stage.name}: pro ${stage.pro?.status ?? "none"}, has_plan('pro') ${stage.hasPro}`,
          async () => {
            await drive(engine, stage.events);
            const pro = await readItem(sql, ids.pro);
            if (stage.pro) {
              assert.equal(pro?.status, stage.pro.status);
              assert.equal(pro?.is_free_trial, stage.pro.is_free_trial);
              assert.equal(pro?.period_end?.getTime(), stage.pro.period_end);
              assert.equal(
                kind === "user" ? pro?.payer_user_id : pro?.payer_organization_id,
                payer,
              );
            } else {
              assert.equal(pro, undefined);
            }
            assert.equal((await readItem(sql, ids.free))?.status, stage.free);
            for (const [version, token] of Object.entries(claims)) {
              assert.equal(await hasPlan(sql, token, "pro"), stage.hasPro, `${version} pro`);
              assert.equal(
                await hasPlan(sql, token, "free_user"),
                stage.hasFree,
                `${version} free`,
              );
            }
            assert.equal(await payerHasPlan(sql, payer, "pro"), stage.hasPro);
          },
        );
      }

      await t.step("the subscription and payment attempts, at the end", async () => {
        const [subscription] =
          await sql`select status, past_due_at from public.billing_subscriptions
                                          where id = ${ids.subscription}`;
        assert.equal(subscription.status, "active", "past due, then active again");
        const attempts = await sql`select id, status, amount, currency, failed_reason
                                     from public.billing_payment_attempts
                                    where coalesce(payer_user_id, payer_organization_id) = ${payer}`;
        const byId = Object.fromEntries(attempts.map((a) => [a.id, a]));
        assert.equal(byId[ids.checkout].status, "paid");
        assert.equal(byId[ids.checkout].amount, "2200", "totals.grand_total, tax included");
        assert.equal(byId[ids.checkout].currency, "USD");
        assert.deepEqual(byId[ids.renewal].failed_reason, {
          code: "card_declined",
          decline_code: "insufficient_funds",
        });
      });

      await t.step("no payer email, name or image is stored anywhere", async () => {
        const rows = (await payerRows(sql, [payer])).join("\n");
        assert.ok(rows.length > 0);
        for (const leak of ["@example.com", "Ada", "Lovelace", "Acme Inc", "img.clerk.com"]) {
          assert.ok(!rows.includes(leak), `${leak} in ${rows}`);
        }
      });
    });
  });
}

/** `events` shuffled, with some delivered twice: a Svix retry (same id) or a replay (new id). */
function shuffled(events: readonly RunEvent[], seed: number): RunEvent[] {
  const next = random(seed);
  const out = events.flatMap((e) => {
    const r = next();
    if (r < 0.15) return [e, e];
    if (r < 0.3) return [e, { ...e, id: billingTestId("msg") }];
    return [e];
  });
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

Deno.test("any order of the life's events, with duplicates, ends in the same rows", async (t) => {
  await withEngine(async (sql, startEngine) => {
    const payers = [newId("user"), newId("org")];
    const lives = payers.map((payer) => life(payer, Date.now() - 30 * DAY));
    const all = lives.flatMap(({ stages }) => stages.flatMap((s) => s.events));
    const truncate = () =>
      sql`truncate public.billing_subscriptions, public.billing_subscription_items,
                   public.billing_payment_attempts`;

    await truncate();
    const sequential = await startEngine();
    for (const e of all) await drive(sequential, [e]);
    const inOrder = await payerRows(sql, payers);
    assert.equal(inOrder.filter((row) => row.startsWith("item")).length, 4);

    for (const seed of [1, 2, 3, 4, 5, 6]) {
      await t.step(`through the workflows, shuffled with seed ${seed}, all at once`, async () => {
        await truncate();
        const engine = await startEngine();
        const delivered = shuffled(all, seed);
        assert.ok(delivered.length > all.length, "some events are delivered twice");
        await drive(engine, delivered);
        assert.deepEqual(await payerRows(sql, payers), inOrder);
        const retried = delivered.length - new Set(delivered.map((e) => e.id)).size;
        assert.equal(
          engine.skipped.filter((s) => s.reason === "duplicate event id").length,
          retried,
          "a Svix retry (same id) starts no second run",
        );
      });
    }

    await t.step("in reverse, one event at a time", async () => {
      await truncate();
      const engine = await startEngine();
      for (const e of [...all].reverse()) await drive(engine, [e]);
      assert.deepEqual(await payerRows(sql, payers), inOrder);
    });
  });
});

Deno.test("Clerk's timestamps order the events, never the time they are processed", async (t) => {
  await withEngine(async (sql, startEngine) => {
    const engine = await startEngine();
    const user = newId("user");
    const id = billingTestId("csub_item");
    const at = Date.now() - 10 * DAY;
    const undated = (status: string, ts: number) => {
      const data = billingEventData("subscriptionItem.updated", user, ts, { id, status });
      delete data.updated_at;
      return billingEvent("subscriptionItem.updated", data, ts);
    };

    await t.step("an item without updated_at takes its envelope's ts as its version", async () => {
      await drive(engine, [undated("active", at + 2_000)]);
      assert.equal((await readItem(sql, id))?.clerk_updated_at.getTime(), at + 2_000);
    });

    await t.step("an older one processed days later is stale", async () => {
      engine.clock.advanceTo(engine.clock.now() + 3 * DAY);
      await drive(engine, [undated("past_due", at + 1_000)]);
      const row = await readItem(sql, id);
      assert.equal(row?.status, "active");
      assert.equal(row?.clerk_updated_at.getTime(), at + 2_000);
    });

    await t.step("a canceled plan that arrives after its period ended grants nothing", async () => {
      const [item, other] = [billingTestId("csub_item"), newId("user")];
      const late = billingEventData("subscriptionItem.canceled", other, at, {
        id: item,
        period_end: Date.now() - DAY,
        canceled_at: at,
      });
      await drive(engine, [billingEvent("subscriptionItem.canceled", late, at + 500)]);
      assert.equal((await readItem(sql, item))?.status, "canceled");
      assert.equal(await payerHasPlan(sql, other, "pro"), false);
    });

    await t.step("the past-due spellings both store past_due", async () => {
      for (const type of ["subscriptionItem.pastDue", "subscriptionItem.past_due"] as const) {
        const item = billingTestId("csub_item");
        const data = billingEventData(type, user, at, { id: item, status: "pastDue" });
        await drive(engine, [billingEvent(type, data, at)]);
        assert.equal((await readItem(sql, item))?.status, "past_due", type);
      }
    });
  });
});
