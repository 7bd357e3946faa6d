/**
 * Clerk Billing's webhooks through the app: the webhook validates each
 * billing event (both past-due spellings) and forwards Clerk's data
 * unchanged; the three workflows are registered so that every billing event
 * reaches exactly one of them; and `deno task webhook:send --type
 * subscriptionItem.active` lands a row.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { InngestTestEngine } from "@inngest/test";
import { createApp } from "../functions/app.ts";
import { BILLING_EVENT_TYPES } from "../functions/clerk_billing/events.ts";
import { appAt } from "./support/app.ts";
import { within } from "./support/bounded.ts";
import { signedRequest, TEST_SECRET } from "./support/clerk.ts";
import {
  BILLING_FIXTURES,
  type BillingFixture,
  billingFixture,
  readItem,
} from "./support/clerk_billing.ts";
import { captureLogs, TEST_SIGNING_KEY, testEnv } from "./support/env.ts";
import { startEventApi } from "./support/event_api.ts";
import type { RunEvent } from "./support/inngest_cloud.ts";
import { readRegistration } from "./support/inngest_registration.ts";
import { triggerMatches } from "./support/inngest_engine.ts";
import { withPostgrest } from "./support/postgrest.ts";
import { newId } from "./support/organizations.ts";
import { buildClerkPayload } from "../scripts/clerk_payloads.ts";

const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));

Deno.test("the webhook forwards Clerk's billing payloads unchanged", async (t) => {
  const api = startEventApi();
  try {
    const app = createApp(testEnv({ INNGEST_EVENT_API_BASE_URL: api.url }), {
      logger: captureLogs().logger,
    });
    for (const name of Object.keys(BILLING_FIXTURES) as BillingFixture[]) {
      await t.step(`${name}, as Clerk's catalog shapes it, becomes clerk/${name}`, async () => {
        const payload = billingFixture(name, { a_field_clerk_adds_later: { nested: true } });
        const res = await app.handler(signedRequest(payload));
        assert.equal(res.status, 200, await res.clone().text());
        const event = api.accepted.at(-1)!;
        assert.equal(event.name, `clerk/${payload.type}`);
        assert.deepEqual(event.data, payload.data, "unknown fields pass through");
        assert.equal(event.ts, payload.timestamp);
      });
    }

    for (const type of ["subscription", "subscriptionItem"]) {
      for (const spelling of ["pastDue", "past_due"]) {
        await t.step(`${type}.${spelling} is validated, then forwarded`, async () => {
          const valid = buildClerkPayload(`${type}.${spelling}` as "subscription.pastDue");
          const res = await app.handler(signedRequest(valid));
          assert.equal(res.status, 200, await res.clone().text());
          assert.equal(api.accepted.at(-1)!.name, `clerk/${type}.${spelling}`);
          const before = api.accepted.length;
          const invalid = {
            ...valid,
            data: { ...valid.data, payer: { user_id: "user_1", organization_id: "org_1" } },
          };
          const refused = await app.handler(signedRequest(invalid));
          assert.equal(refused.status, 400, "its data is checked like the other spelling's");
          await refused.body?.cancel();
          assert.equal(api.accepted.length, before);
        });
      }
    }

    const invalid: [BillingFixture, Record<string, unknown>, RegExp][] = [
      [
        "subscriptionItem.active",
        { payer: { user_id: "user_1", organization_id: "org_1" } },
        /exactly one/,
      ],
      ["subscriptionItem.active", { payer: { user_id: "", organization_id: "" } }, /exactly one/],
      ["subscriptionItem.active", { payer: null }, /payer/],
      ["subscription.created", { status: "past due" }, /status/],
      ["subscription.created", { updated_at: "yesterday" }, /updated_at/],
      ["subscriptionItem.pastDue", { id: "" }, /id/],
      [
        "paymentAttempt.updated",
        { totals: { grand_total: { amount: 53.9, currency: "USD" } } },
        /amount/,
      ],
    ];
    for (const [name, patch, field] of invalid) {
      await t.step(`${name} with ${JSON.stringify(patch)} is refused with 400`, async () => {
        const before = api.accepted.length;
        const res = await app.handler(signedRequest(billingFixture(name, patch)));
        assert.equal(res.status, 400);
        assert.match(JSON.stringify(await res.json()), field);
        assert.equal(api.accepted.length, before, "nothing sent to Inngest");
      });
    }
  } finally {
    await api.close();
  }
});

Deno.test("every billing event reaches exactly one billing workflow, one run per entity at a time", async () => {
  const app = createApp(testEnv(), { logger: captureLogs().logger });
  const functions = await readRegistration({ handler: app.handler, signingKey: TEST_SIGNING_KEY });
  const expected: Record<string, string> = {
    subscription: "sync-billing-subscription-from-clerk",
    subscriptionItem: "sync-billing-subscription-item-from-clerk",
    paymentAttempt: "sync-billing-payment-attempt-from-clerk",
  };
  for (const type of BILLING_EVENT_TYPES) {
    const started = [...functions.values()]
      .filter((config) => config.events.some((trigger) => triggerMatches(trigger, `clerk/${type}`)))
      .map((config) => config.id);
    assert.deepEqual(started, [expected[type.split(".")[0]]], type);
  }
  for (const id of Object.values(expected)) {
    assert.deepEqual(
      functions.get(id)?.concurrency,
      [{ key: "event.data.id", limit: 1 }],
      `${id} runs one event per entity at a time`,
    );
  }
  const user = [...functions.values()].filter((config) =>
    config.events.some((trigger) => triggerMatches(trigger, "clerk/user.created"))
  );
  assert.ok(user.every((config) => !config.id.includes("billing")), "no user event starts them");
});

Deno.test("deno task webhook:send --type subscriptionItem.active lands the item", async () => {
  await withPostgrest(async (sql, postgrest) => {
    const api = startEventApi();
    const app = appAt(postgrest, { INNGEST_EVENT_API_BASE_URL: api.url });
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, app.handler);
    try {
      const org = newId("org");
      const output = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--allow-net",
          "--allow-env",
          "--allow-read",
          "scripts/webhook_send.ts",
          "--url",
          `http://127.0.0.1:${server.addr.port}/functions/v1/clerk-events/webhook`,
          "--secret",
          TEST_SECRET,
          "--type",
          "subscriptionItem.active",
          "--user-id",
          org,
        ],
        cwd: REPO_ROOT,
        env: { NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(output.stdout) +
        new TextDecoder().decode(output.stderr);
      assert.equal(output.code, 0, text);
      const [event] = api.accepted;
      assert.equal(event.name, "clerk/subscriptionItem.active");
      const fn = app.functions.find((f) => f.id() === "sync-billing-subscription-item-from-clerk");
      assert.ok(fn, "the item workflow is served");
      const { error } = await within(
        new InngestTestEngine({ function: fn }).execute({ events: [event as RunEvent] }),
        30_000,
        "sync-billing-subscription-item-from-clerk to finish for the sent event",
      );
      assert.equal(error, undefined);
      const row = await readItem(sql, (event.data as { id: string }).id);
      assert.equal(row?.payer_organization_id, org);
      assert.equal(row?.payer_user_id, null);
      assert.equal(row?.status, "active");
      assert.equal(row?.plan_slug, "pro");
    } finally {
      await server.shutdown();
      await api.close();
    }
  });
});
