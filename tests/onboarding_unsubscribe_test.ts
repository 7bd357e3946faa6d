import assert from "node:assert/strict";
import type postgres from "postgres";
import type { App } from "../functions/app.ts";
import { appAt } from "./support/app.ts";
import { clerkPayload, newMessageId, newUserId } from "./support/clerk.ts";
import { TEST_PUBLIC_FUNCTION_URL, TEST_SIGNING_KEY } from "./support/env.ts";
import { oneClickPost, readPreference, unsubscribeUrlFor } from "./support/email_preferences.ts";
import { driveRun, type RunEvent } from "./support/inngest_cloud.ts";
import { withPostgrest } from "./support/postgrest.ts";
import { type DeliveredEmail, type ResendApi, startResendApi } from "./support/resend_api.ts";
import { resendEvent, signedResendRequest } from "./support/resend_webhook.ts";
import type { Env } from "../functions/settings.ts";

interface World {
  sql: postgres.Sql;
  resend: ResendApi;
  app: App;
}

async function withWorld(fn: (w: World) => Promise<void>, env: Env = {}) {
  await withPostgrest(async (sql, postgrest) => {
    const resend = startResendApi();
    try {
      await fn({ sql, resend, app: appAt(postgrest, { RESEND_BASE_URL: resend.url, ...env }) });
    } finally {
      await resend.close();
    }
  });
}

/** Runs onboarding-emails for a new user through the signed /inngest route. */
async function onboard(app: App, userId: string, duringWait: () => unknown = () => {}) {
  const payload = clerkPayload("user.created", { id: userId });
  const event: RunEvent = {
    id: newMessageId(),
    name: "clerk/user.created",
    data: payload.data,
    ts: payload.timestamp,
  };
  const outcome = await driveRun({
    handler: app.handler,
    functionId: "onboarding-emails",
    event,
    signingKey: TEST_SIGNING_KEY,
    onSleep: async () => {
      await duringWait();
    },
  });
  return outcome.result as { welcome: string; trialOffer: string };
}

function emailTo(resend: ResendApi, kind: string, userId: string): DeliveredEmail | undefined {
  return resend.delivered.find((e) => e.idempotencyKey === `clerk-events/${kind}/${userId}`);
}

async function delivery(sql: postgres.Sql, userId: string, kind: string) {
  const [row] = await sql<{ status: string; error: string | null; resend_id: string | null }[]>`
    select status, error, resend_id from public.email_deliveries
     where user_id = ${userId} and kind = ${kind}`;
  return row;
}

Deno.test("the trial offer carries one-click unsubscribe that works", async (t) => {
  await withWorld(async ({ sql, resend, app }) => {
    const userId = newUserId();
    assert.deepEqual(await onboard(app, userId), {
      userId,
      welcome: "sent",
      trialOffer: "sent",
    });
    const offer = emailTo(resend, "trial_offer", userId);
    assert.ok(offer, "the trial offer reached Resend");
    const url = /^<(.+)>$/.exec(offer.headers?.["List-Unsubscribe"] ?? "")?.[1];

    await t.step("List-Unsubscribe names the function's public unsubscribe URL", () => {
      assert.ok(url, "List-Unsubscribe is <url>");
      assert.ok(url.startsWith(`${TEST_PUBLIC_FUNCTION_URL}/unsubscribe?token=`), url);
      assert.equal(offer.headers?.["List-Unsubscribe-Post"], "List-Unsubscribe=One-Click");
    });

    await t.step("the same link is visible in the HTML and the text", () => {
      assert.ok(offer.text.includes(`Unsubscribe from these emails: ${url}`), "text part");
      assert.ok(offer.html.includes(`href="${url!.replaceAll("&", "&amp;")}"`), "HTML part");
    });

    await t.step("the welcome email is transactional and has none", () => {
      const welcome = emailTo(resend, "welcome", userId);
      assert.equal(welcome?.headers?.["List-Unsubscribe"], undefined);
      assert.ok(!welcome?.text.includes("/unsubscribe"));
    });

    await t.step("the link opts this user out with one POST", async () => {
      const res = await app.handler(oneClickPost(url!));
      assert.equal(res.status, 200);
      await res.body?.cancel();
      assert.equal((await readPreference(sql, userId))?.source, "one_click");
    });
  });
});

Deno.test("after an opt-out the trial offer is skipped and the welcome email is not", async (t) => {
  await withWorld(async ({ sql, resend, app }) => {
    await t.step("a user who unsubscribed before the wait ends", async () => {
      const userId = newUserId();
      const result = await onboard(
        app,
        userId,
        async () => (await app.handler(oneClickPost(await unsubscribeUrlFor(userId)))).status,
      );
      assert.deepEqual(result, { userId, welcome: "sent", trialOffer: "skipped" });
      assert.ok(emailTo(resend, "welcome", userId), "the welcome email went out");
      assert.equal(emailTo(resend, "trial_offer", userId), undefined, "no trial offer");
      assert.deepEqual(await delivery(sql, userId, "trial_offer"), {
        status: "skipped",
        error: "unsubscribed",
        resend_id: null,
      });
    });

    await t.step("a user who marked the welcome email as spam", async () => {
      const userId = newUserId();
      const result = await onboard(app, userId, async () => {
        const { resend_id } = await delivery(sql, userId, "welcome");
        const res = await app.handler(
          signedResendRequest(resendEvent("email.complained", resend_id!, new Date())),
        );
        assert.equal(res.status, 200);
        await res.body?.cancel();
      });
      assert.deepEqual(result, { userId, welcome: "sent", trialOffer: "skipped" });
      assert.equal(emailTo(resend, "trial_offer", userId), undefined);
      assert.equal((await delivery(sql, userId, "trial_offer")).error, "unsubscribed");
      assert.equal((await readPreference(sql, userId))?.source, "complaint");
    });
  });
});

Deno.test("without unsubscribe settings the trial offer is skipped, never sent without", async () => {
  await withWorld(async ({ sql, resend, app }) => {
    const userId = newUserId();
    const result = await onboard(app, userId);
    assert.deepEqual(result, { userId, welcome: "sent", trialOffer: "skipped" });
    assert.ok(emailTo(resend, "welcome", userId));
    assert.equal(emailTo(resend, "trial_offer", userId), undefined);
    assert.match(
      (await delivery(sql, userId, "trial_offer")).error ?? "",
      /^unsubscribe link not configured/,
    );
  }, { PUBLIC_FUNCTION_URL: undefined });
});
