/**
 * Clerk's own emails (`email.created`), through the app: the webhook sends
 * each through Resend before it answers, Svix's retries reuse one
 * idempotency key, the answer tells Svix whether to retry, the ledger keeps
 * one row per Clerk message, and what reaches Inngest is redacted.
 *
 * Every count is of what the Resend stand-in really received (each
 * request, with its key and body), not of what it kept after deduplicating.
 */
import assert from "node:assert/strict";
import { RESEND_DEADLINE_MS } from "../functions/auth_emails/stage.ts";
import { clerkEmailSchema, EMAIL_CONTENT_FIELDS } from "../functions/clerk/email_schemas.ts";
import { type Env, parseSettings } from "../functions/settings.ts";
import { buildClerkPayload } from "../scripts/clerk_payloads.ts";
import { AUTH_EMAIL_FROM, authRow, codeEmail, withAuthEmails } from "./support/auth_emails.ts";
import { within } from "./support/bounded.ts";
import { clerkPayload, newMessageId, newUserId } from "./support/clerk.ts";
import { healthDetailsRequest, testEnv } from "./support/env.ts";

const key = (svixId: string) => `clerk-email/${svixId}`;

/** Clerk's data without the message: what Inngest must receive. */
function redacted(data: Record<string, unknown>): Record<string, unknown> {
  const copy = { ...data };
  for (const field of EMAIL_CONTENT_FIELDS) delete copy[field];
  return copy;
}

Deno.test("a code Clerk hands to the app goes out through Resend before the webhook answers", async (t) => {
  await withAuthEmails(async ({ sql, resend, inngest, deliver }) => {
    const email = codeEmail();
    const svixId = newMessageId();
    const answer = await deliver(email.payload, svixId);

    await t.step("2xx, once Resend accepted it", () => {
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.deepEqual(answer.body, {
        status: "accepted",
        id: svixId,
        name: "clerk/email.created",
      });
      assert.equal(resend.received.length, 1);
      assert.equal(resend.received[0].status, 200);
    });
    await t.step("one send: from AUTH_EMAIL_FROM, Clerk's rendering, keyed by the svix-id", () => {
      const [sent] = resend.received;
      assert.equal(sent.idempotencyKey, key(svixId));
      const data = email.payload.data;
      assert.deepEqual(JSON.parse(sent.body), {
        from: AUTH_EMAIL_FROM,
        to: email.to,
        subject: data.subject,
        html: data.body,
        text: data.body_plain,
      });
    });
    await t.step("one row, kind auth, with the slug, the Resend id and the status", async () => {
      assert.deepEqual(await authRow(sql, svixId), {
        kind: "auth",
        user_id: null,
        slug: "verification_code",
        status: "sent",
        resend_id: resend.received[0].id,
        error: null,
      });
    });
    await t.step("Inngest gets clerk/email.created, redacted, with the svix-id", () => {
      assert.equal(inngest.accepted.length, 1);
      const [event] = inngest.accepted;
      assert.equal(event.id, svixId);
      assert.equal(event.name, "clerk/email.created");
      assert.equal(event.ts, email.payload.timestamp);
      assert.deepEqual(event.data, redacted(email.payload.data));
    });
  });
});

Deno.test("Svix's retry after a Resend failure sends the code once, under one key", async () => {
  await withAuthEmails(async ({ sql, resend, inngest, deliver }) => {
    const email = codeEmail({ user_id: newUserId(), slug: "verification_code" });
    const svixId = newMessageId();
    resend.fault = (n) => n === 1 ? { status: 500 } : undefined;

    const first = await deliver(email.payload, svixId);
    assert.equal(first.status, 502, "a Resend 5xx is a 5xx, so that Svix retries");
    assert.equal(first.body.error, "resend_unavailable");
    assert.equal(inngest.accepted.length, 0, "nothing forwarded before Resend accepted");
    const pending = await authRow(sql, svixId);
    assert.equal(pending.status, "pending");
    assert.match(pending.error ?? "", /internal_server_error/);

    const retry = await deliver(email.payload, svixId);
    assert.equal(retry.status, 200);
    const late = await deliver(email.payload, svixId);
    assert.equal(late.status, 200, "a duplicate after success is answered 2xx too");

    const mine = resend.received.filter((r) => r.idempotencyKey === key(svixId));
    assert.equal(resend.received.length, 3, "every attempt reached Resend");
    assert.equal(mine.length, 3, "every attempt carried clerk-email/<svix-id>");
    assert.equal(new Set(mine.map((r) => r.body)).size, 1, "with the same body");
    assert.deepEqual(mine.map((r) => r.status), [500, 200, 200]);
    assert.equal(mine[1].id, mine[2].id, "the replay is answered with the first email");
    assert.equal(resend.delivered.length, 1);
    const row = await authRow(sql, svixId);
    assert.equal(row.status, "sent");
    assert.equal(row.resend_id, mine[1].id);
    assert.deepEqual(
      inngest.accepted.map((e) => e.id),
      [svixId, svixId],
      "Inngest drops the repeat",
    );
  });
});

Deno.test("the webhook's answer tells Svix whether a retry can help", async (t) => {
  await withAuthEmails(async ({ sql, resend, inngest, deliver }) => {
    await t.step("Resend's 429: 503 with Resend's Retry-After, the row pending", async () => {
      const email = codeEmail();
      const svixId = newMessageId();
      resend.fault = () => ({ status: 429, retryAfterSeconds: 7 });
      const answer = await deliver(email.payload, svixId);
      resend.fault = () => undefined;
      assert.equal(answer.status, 503);
      assert.equal(answer.body.error, "resend_rate_limited");
      assert.equal(answer.headers.get("retry-after"), "7");
      assert.equal((await authRow(sql, svixId)).status, "pending");
      assert.ok(!inngest.accepted.some((e) => e.id === svixId));
    });

    await t.step(
      "a refused API key (403): 503, the row pending until the key is fixed",
      async () => {
        const svixId = newMessageId();
        resend.fault = () => ({ status: 403 });
        const answer = await deliver(codeEmail().payload, svixId);
        resend.fault = () => undefined;
        assert.equal(answer.status, 503);
        assert.equal(answer.body.error, "resend_unauthorized");
        assert.equal((await authRow(sql, svixId)).status, "pending");
      },
    );

    await t.step("a permanent refusal (422): 2xx, recorded as failed, never retried", async () => {
      const email = codeEmail();
      const svixId = newMessageId();
      resend.fault = () => ({ status: 422 });
      const answer = await deliver(email.payload, svixId);
      resend.fault = () => undefined;
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      const row = await authRow(sql, svixId);
      assert.equal(row.status, "failed");
      assert.match(row.error ?? "", /validation_error/);
      assert.ok(!row.error?.includes(email.to), "Resend's message quoted the address: masked");
      assert.ok(inngest.accepted.some((e) => e.id === svixId), "forwarded, redacted");
    });

    await t.step("delivered_by_clerk: true sends nothing and is recorded as skipped", async () => {
      const before = resend.received.length;
      const email = codeEmail({ delivered_by_clerk: true });
      const svixId = newMessageId();
      const answer = await deliver(email.payload, svixId);
      assert.equal(answer.status, 200);
      assert.equal(resend.received.length, before, "Resend received nothing");
      assert.equal((await authRow(sql, svixId)).status, "skipped");
      const event = inngest.accepted.find((e) => e.id === svixId);
      assert.deepEqual(event?.data, redacted(email.payload.data));
    });

    await t.step("no plain body (body_plain null): sent with the HTML alone", async () => {
      const email = codeEmail({ body_plain: null });
      const answer = await deliver(email.payload);
      assert.equal(answer.status, 200);
      const sent = JSON.parse(resend.received.at(-1)!.body);
      assert.equal(sent.html, email.payload.data.body);
      assert.ok(!("text" in sent), "no empty text part");
    });

    await t.step("a message without a recipient: 2xx, failed, nothing sent", async () => {
      const before = resend.received.length;
      const svixId = newMessageId();
      const answer = await deliver(codeEmail({ to_email_address: "" }).payload, svixId);
      assert.equal(answer.status, 200);
      assert.equal(resend.received.length, before);
      const row = await authRow(sql, svixId);
      assert.deepEqual([row.status, row.error], ["failed", "Clerk's email has no recipient"]);
    });

    await t.step("data that is not an EmailJSON: 400, nothing sent", async () => {
      const before = resend.received.length;
      const answer = await deliver(codeEmail({ delivered_by_clerk: "no" }).payload);
      assert.equal(answer.status, 400);
      assert.equal(resend.received.length, before);
    });
  });
});

Deno.test("a Resend that does not answer gets 10 s, and the webhook answers 504 within Svix's 15", async () => {
  assert.equal(RESEND_DEADLINE_MS, 10_000);
  await withAuthEmails(async ({ sql, resend, inngest, deliver }) => {
    const email = codeEmail();
    const svixId = newMessageId();
    resend.fault = (n) => n === 1 ? { status: "hang" } : undefined;
    const started = performance.now();
    const answer = await within(deliver(email.payload, svixId), 14_000, "the webhook's answer");
    const elapsed = performance.now() - started;
    assert.equal(answer.status, 504);
    assert.equal(answer.body.error, "resend_timeout");
    assert.ok(elapsed >= RESEND_DEADLINE_MS - 50, `answered after ${elapsed} ms`);
    assert.equal((await authRow(sql, svixId)).status, "pending");
    assert.equal(inngest.accepted.length, 0);

    const retry = await within(deliver(email.payload, svixId), 14_000, "the retry's answer");
    assert.equal(retry.status, 200);
    const keys = resend.received.map((r) => r.idempotencyKey);
    assert.deepEqual(keys, [key(svixId), key(svixId)], "the retry reuses the key");
    assert.equal((await authRow(sql, svixId)).status, "sent");
  });
});

Deno.test("EMAIL_DRY_RUN: nothing is sent, and the row says dry_run", async () => {
  await withAuthEmails(async ({ sql, resend, inngest, deliver }) => {
    const svixId = newMessageId();
    const email = codeEmail();
    const answer = await deliver(email.payload, svixId);
    assert.equal(answer.status, 200);
    assert.equal(resend.received.length, 0);
    assert.equal((await authRow(sql, svixId)).status, "dry_run");
    assert.deepEqual(inngest.accepted[0].data, redacted(email.payload.data));
  }, { EMAIL_DRY_RUN: "true", RESEND_API_KEY: undefined });
});

Deno.test("AUTH_EMAIL_FROM without RESEND_API_KEY: a problem in /health, 503 for the emails only", async (t) => {
  await withAuthEmails(async ({ app, resend, inngest, deliver }) => {
    await t.step("/health names the problem and the feature as invalid", async () => {
      const body = await (await app.handler(healthDetailsRequest())).json();
      assert.equal(body.optional_features.auth_emails, "invalid (see problems)");
      assert.ok(
        body.problems.some((p: string) => /^RESEND_API_KEY is missing: AUTH_EMAIL_FROM/.test(p)),
        JSON.stringify(body.problems),
      );
    });
    await t.step("an email for the app to deliver gets 503 naming it", async () => {
      const answer = await deliver(codeEmail().payload);
      assert.equal(answer.status, 503);
      assert.match(String(answer.body.message), /RESEND_API_KEY is missing/);
      assert.equal(resend.received.length, 0);
    });
    await t.step("every other event flows: a Clerk-delivered email, a new user", async () => {
      const clerkDelivered = newMessageId();
      assert.equal(
        (await deliver(codeEmail({ delivered_by_clerk: true }).payload, clerkDelivered)).status,
        200,
      );
      const user = newMessageId();
      assert.equal((await deliver(clerkPayload("user.created"), user)).status, 200);
      assert.deepEqual(inngest.accepted.map((e) => e.id), [clerkDelivered, user]);
    });
  }, { RESEND_API_KEY: undefined });
});

Deno.test("without AUTH_EMAIL_FROM the feature is off, and the event is redacted all the same", async () => {
  await withAuthEmails(async ({ app, sql, resend, inngest, deliver }) => {
    const body = await (await app.handler(healthDetailsRequest())).json();
    assert.equal(body.optional_features.auth_emails, "off: AUTH_EMAIL_FROM is not set");
    assert.equal(body.settings.AUTH_EMAIL_FROM, "missing");
    const email = codeEmail();
    const svixId = newMessageId();
    assert.equal((await deliver(email.payload, svixId)).status, 200);
    assert.equal(resend.received.length, 0);
    assert.equal(await authRow(sql, svixId), undefined, "no row while off");
    assert.deepEqual(inngest.accepted[0].data, redacted(email.payload.data));
  }, { AUTH_EMAIL_FROM: undefined });
});

Deno.test("marketing opt-outs do not stop Clerk's emails", async () => {
  await withAuthEmails(async ({ sql, resend, deliver }) => {
    const userId = newUserId();
    await sql`select public.opt_out_of_marketing_email(${userId}, 'one_click')`;
    const svixId = newMessageId();
    const answer = await deliver(codeEmail({ user_id: userId }).payload, svixId);
    assert.equal(answer.status, 200);
    assert.equal(resend.received.length, 1);
    assert.equal((await authRow(sql, svixId)).user_id, userId);
  });
});

Deno.test("a database failure is logged and does not block the email", async () => {
  await withAuthEmails(async ({ postgrest, resend, inngest, logs, deliver }) => {
    postgrest.double!.databaseDown = true;
    const svixId = newMessageId();
    const answer = await deliver(codeEmail().payload, svixId);
    postgrest.double!.databaseDown = false;
    assert.equal(answer.status, 200);
    assert.equal(resend.received.length, 1);
    assert.deepEqual(inngest.accepted.map((e) => e.id), [svixId]);
    const line = logs.records().find((r) =>
      r.msg === "Clerk's email not recorded in public.email_deliveries"
    );
    assert.ok(line, "the failure is logged");
    assert.equal(line.svix_id, svixId);
    assert.equal(line.status, "sent");
  });
});

Deno.test("past Resend's 24 hours of idempotency, the ledger keeps a late retry from sending again", async (t) => {
  const dayAgo = Date.now() - 25 * 60 * 60 * 1000;
  await withAuthEmails(async ({ sql, resend, deliver }) => {
    await t.step("recorded as sent: answered 2xx, nothing sent", async () => {
      const svixId = newMessageId();
      await sql`select public.record_auth_email(${svixId}, null, 'verification_code', 'sent', 'resend_earlier')`;
      const answer = await deliver(codeEmail({}, dayAgo).payload, svixId);
      assert.equal(answer.status, 200);
      assert.equal(resend.received.length, 0);
    });
    await t.step("left pending by failures: sent", async () => {
      const svixId = newMessageId();
      await sql`select public.record_auth_email(${svixId}, null, 'verification_code', 'pending')`;
      const answer = await deliver(codeEmail({}, dayAgo).payload, svixId);
      assert.equal(answer.status, 200);
      assert.deepEqual(resend.received.map((r) => r.idempotencyKey), [key(svixId)]);
      assert.equal((await authRow(sql, svixId)).status, "sent");
    });
  });
});

Deno.test("AUTH_EMAIL_FROM is validated in a group of its own, apart from the email copy", () => {
  const group = (env: Env) => parseSettings(testEnv(env)).authEmails;
  assert.deepEqual(group({}), { ok: true, value: undefined }, "unset: off, no problem");
  assert.deepEqual(group({ AUTH_EMAIL_FROM: "not an address" }), {
    ok: false,
    problems: ['AUTH_EMAIL_FROM must be an address or "Name <address>"'],
  });
  const alone = group({ AUTH_EMAIL_FROM, APP_NAME: undefined, EMAIL_POSTAL_ADDRESS: undefined });
  assert.ok(alone.ok && alone.value?.from === AUTH_EMAIL_FROM, "the copy's settings do not matter");
  const dry = group({ AUTH_EMAIL_FROM, RESEND_API_KEY: undefined, EMAIL_DRY_RUN: "true" });
  assert.ok(dry.ok && dry.value?.dryRun && !dry.value.resendApiKey, "a dry run needs no key");
});

Deno.test("webhook:send's email.created is a verification code shaped like @clerk/backend's EmailJSON", () => {
  const payload = buildClerkPayload("email.created");
  const email = clerkEmailSchema.parse(payload.data);
  assert.equal(payload.type, "email.created");
  assert.deepEqual([email.slug, email.user_id, email.delivered_by_clerk], [
    "verification_code",
    null,
    false,
  ], "a sign-up code, for the app to deliver");
  const code = (email.data as { otp_code: string }).otp_code;
  assert.match(code, /^\d{6}$/);
  for (const part of [email.subject, email.body, email.body_plain]) assert.ok(part?.includes(code));
  assert.match(email.to_email_address ?? "", /@example\.com$/);
  assert.match(email.id, /^ema_/);
  const signIn = buildClerkPayload("email.created", { userId: "user_given" });
  assert.equal(
    clerkEmailSchema.parse(signIn.data).user_id,
    "user_given",
    "--user-id: a sign-in code",
  );
});
