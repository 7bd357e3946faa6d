import assert from "node:assert/strict";
import type postgres from "postgres";
import type { App } from "../functions/app.ts";
import { appAt } from "./support/app.ts";
import { newMessageId, newUserId, OTHER_SECRET, TEST_SECRET } from "./support/clerk.ts";
import { healthDetailsRequest, testEnv } from "./support/env.ts";
import { oneClickPost, readPreference, unsubscribeUrlFor } from "./support/email_preferences.ts";
import { withPostgrest } from "./support/postgrest.ts";
import { resendEvent, signedResendRequest } from "./support/resend_webhook.ts";

/** Records a sent email the way the onboarding workflow does; returns its Resend id. */
async function sentEmail(sql: postgres.Sql, userId: string, kind = "trial_offer") {
  const resendId = crypto.randomUUID();
  await sql`select public.claim_email_delivery(${userId}, ${kind})`;
  await sql`select public.record_email_delivery(${userId}, ${kind}, 'sent', ${resendId})`;
  return resendId;
}

async function lastEvent(sql: postgres.Sql, resendId: string) {
  const [row] = await sql<{ last_event: string | null; last_event_at: Date | null }[]>`
    select last_event, last_event_at from public.email_deliveries where resend_id = ${resendId}`;
  return row;
}

async function send(app: App, request: Request) {
  const res = await app.handler(request);
  return { status: res.status, body: await res.json() };
}

const at = (minutes: number) => new Date(Date.UTC(2026, 10, 30, 9, minutes));

Deno.test("signed Resend events update the email they name", async (t) => {
  await withPostgrest(async (sql, postgrest) => {
    const app = appAt(postgrest);

    await t.step("each newer event becomes the last event, with its time", async () => {
      const resendId = await sentEmail(sql, newUserId());
      const sequence = [
        "email.sent",
        "email.delivery_delayed",
        "email.delivered",
        "email.opened",
        "email.clicked",
      ] as const;
      for (const [i, type] of sequence.entries()) {
        const answer = await send(app, signedResendRequest(resendEvent(type, resendId, at(i))));
        assert.equal(answer.status, 200, type);
        assert.equal(answer.body.status, "updated", type);
        assert.deepEqual(await lastEvent(sql, resendId), {
          last_event: type.slice("email.".length),
          last_event_at: at(i),
        });
      }
    });

    await t.step("an out-of-order delivered after bounced does not overwrite it", async () => {
      const resendId = await sentEmail(sql, newUserId());
      await send(app, signedResendRequest(resendEvent("email.bounced", resendId, at(10))));
      const late = await send(
        app,
        signedResendRequest(resendEvent("email.delivered", resendId, at(9))),
      );
      assert.equal(late.status, 200);
      assert.equal(late.body.status, "stale");
      assert.deepEqual(await lastEvent(sql, resendId), {
        last_event: "bounced",
        last_event_at: at(10),
      });
    });

    await t.step("a redelivered event changes nothing", async () => {
      const userId = newUserId();
      const resendId = await sentEmail(sql, userId);
      const id = newMessageId();
      const payload = resendEvent("email.complained", resendId, at(20));
      await send(app, signedResendRequest(payload, { id }));
      const before = [await lastEvent(sql, resendId), await readPreference(sql, userId)];
      const again = await send(app, signedResendRequest(payload, { id }));
      assert.equal(again.status, 200);
      assert.equal(again.body.status, "stale");
      assert.deepEqual([await lastEvent(sql, resendId), await readPreference(sql, userId)], before);
    });

    await t.step("failed and suppressed are recorded too", async () => {
      for (const type of ["email.failed", "email.suppressed"] as const) {
        const resendId = await sentEmail(sql, newUserId());
        await send(app, signedResendRequest(resendEvent(type, resendId, at(30))));
        assert.equal((await lastEvent(sql, resendId)).last_event, type.slice(6));
      }
    });
  });
});

Deno.test("complaints and permanent bounces opt the user out of marketing email", async (t) => {
  await withPostgrest(async (sql, postgrest) => {
    const app = appAt(postgrest);

    await t.step("a complaint opts the user out with source complaint", async () => {
      const userId = newUserId();
      const resendId = await sentEmail(sql, userId, "welcome");
      const answer = await send(
        app,
        signedResendRequest(resendEvent("email.complained", resendId, at(1))),
      );
      assert.equal(answer.status, 200);
      const row = await readPreference(sql, userId);
      assert.equal(row?.source, "complaint");
      assert.ok(row?.marketing_opt_out_at);
    });

    await t.step("a permanent bounce opts the user out with source bounce", async () => {
      const userId = newUserId();
      const resendId = await sentEmail(sql, userId);
      await send(app, signedResendRequest(resendEvent("email.bounced", resendId, at(1))));
      assert.equal((await readPreference(sql, userId))?.source, "bounce");
    });

    await t.step("a transient bounce is recorded but does not opt out", async () => {
      const userId = newUserId();
      const resendId = await sentEmail(sql, userId);
      const payload = resendEvent("email.bounced", resendId, at(1));
      payload.data.bounce = { type: "Transient", subType: "MailboxFull", message: "Full" };
      await send(app, signedResendRequest(payload));
      assert.equal((await lastEvent(sql, resendId)).last_event, "bounced");
      assert.equal(await readPreference(sql, userId), undefined);
    });

    await t.step("a complaint that arrives after a newer event still opts out", async () => {
      const userId = newUserId();
      const resendId = await sentEmail(sql, userId);
      await send(app, signedResendRequest(resendEvent("email.clicked", resendId, at(5))));
      const late = await send(
        app,
        signedResendRequest(resendEvent("email.complained", resendId, at(4))),
      );
      assert.equal(late.body.status, "stale");
      assert.equal((await lastEvent(sql, resendId)).last_event, "clicked");
      assert.equal((await readPreference(sql, userId))?.source, "complaint");
    });

    await t.step("an earlier opt-out keeps its time and source", async () => {
      const userId = newUserId();
      const resendId = await sentEmail(sql, userId);
      await app.handler(oneClickPost(await unsubscribeUrlFor(userId)));
      const before = await readPreference(sql, userId);
      await send(app, signedResendRequest(resendEvent("email.complained", resendId, at(4))));
      assert.deepEqual(await readPreference(sql, userId), before);
    });
  });
});

Deno.test("Resend events that are not about our emails are answered 2xx and recorded nowhere", async (t) => {
  await withPostgrest(async (sql, postgrest) => {
    const app = appAt(postgrest);
    const counts = async () => {
      const [row] = await sql<{ deliveries: number; events: number; preferences: number }[]>`
        select (select count(*)::int from public.email_deliveries) as deliveries,
               (select count(*)::int from public.email_deliveries where last_event is not null)
                 as events,
               (select count(*)::int from public.email_preferences) as preferences`;
      return row;
    };

    await t.step("an unknown Resend id, even a complaint", async () => {
      const before = await counts();
      for (const type of ["email.delivered", "email.complained", "email.bounced"] as const) {
        const answer = await send(
          app,
          signedResendRequest(resendEvent(type, crypto.randomUUID(), at(1))),
        );
        assert.equal(answer.status, 200);
        assert.equal(answer.body.status, "unknown");
      }
      assert.deepEqual(await counts(), before);
    });

    await t.step("contact events and inbound email", async () => {
      const before = await counts();
      const resendId = await sentEmail(sql, newUserId());
      const after = await counts();
      for (const type of ["contact.created", "email.received"] as const) {
        const answer = await send(app, signedResendRequest(resendEvent(type, resendId, at(1))));
        assert.equal(answer.status, 200);
        assert.equal(answer.body.status, "ignored");
      }
      assert.equal((await lastEvent(sql, resendId)).last_event, null);
      assert.deepEqual(await counts(), { ...before, deliveries: after.deliveries });
    });
  });
});

Deno.test("the Resend webhook is verified exactly as the Clerk webhook", async (t) => {
  await withPostgrest(async (sql, postgrest) => {
    const app = appAt(postgrest);
    const resendId = await sentEmail(sql, newUserId());
    const payload = resendEvent("email.delivered", resendId, at(1));

    const rejected: [string, Request, number][] = [
      ["an unsigned delivery", signedResendRequest(payload, { unsigned: true }), 401],
      [
        "a delivery signed with the Clerk secret",
        signedResendRequest(payload, { secret: TEST_SECRET }),
        401,
      ],
      [
        "a delivery signed with another secret",
        signedResendRequest(payload, { secret: OTHER_SECRET }),
        401,
      ],
      [
        "a delivery signed 6 minutes ago",
        signedResendRequest(payload, { at: new Date(Date.now() - 6 * 60_000) }),
        401,
      ],
      ["a body that is not JSON", signedResendRequest("not json"), 400],
      ["JSON that is not a Resend event", signedResendRequest('{"hello":"world"}'), 400],
      [
        "an email event without email_id",
        signedResendRequest({ ...payload, data: { to: ["a@example.com"] } }),
        400,
      ],
      [
        "a body over 256 KiB",
        signedResendRequest(JSON.stringify({ ...payload, pad: "x".repeat(256 * 1024) })),
        413,
      ],
      [
        "a GET",
        new Request("http://localhost/clerk-events/resend-webhook"),
        405,
      ],
    ];
    for (const [name, request, status] of rejected) {
      await t.step(`${name} gets ${status} and changes nothing`, async () => {
        const res = await app.handler(request);
        assert.equal(res.status, status);
        await res.body?.cancel();
        assert.equal((await lastEvent(sql, resendId)).last_event, null);
      });
    }

    await t.step("a delivery signed with either secret during a rotation is accepted", async () => {
      const rotating = appAt(postgrest, {
        RESEND_WEBHOOK_SECRET: `${OTHER_SECRET} ${testEnv().RESEND_WEBHOOK_SECRET}`,
      });
      for (const [i, secret] of [OTHER_SECRET, testEnv().RESEND_WEBHOOK_SECRET!].entries()) {
        const res = await rotating.handler(
          signedResendRequest(resendEvent("email.opened", resendId, at(10 + i)), { secret }),
        );
        assert.equal(res.status, 200);
        await res.body?.cancel();
        assert.deepEqual(await lastEvent(sql, resendId), {
          last_event: "opened",
          last_event_at: at(10 + i),
        });
      }
    });

    await t.step("a database outage answers 503, so that Resend retries", async () => {
      if (!postgrest.double) return; // the real stack cannot be taken down
      postgrest.double.databaseDown = true;
      try {
        const res = await app.handler(
          signedResendRequest(resendEvent("email.clicked", resendId, at(20))),
        );
        assert.equal(res.status, 503);
        await res.body?.cancel();
      } finally {
        postgrest.double.databaseDown = false;
      }
    });
  });
});

Deno.test("without RESEND_WEBHOOK_SECRET only the Resend webhook stops", async (t) => {
  await withPostgrest(async (sql, postgrest) => {
    const app = appAt(postgrest, { RESEND_WEBHOOK_SECRET: undefined });

    await t.step("the route answers 503 naming the setting", async () => {
      const res = await app.handler(
        signedResendRequest(resendEvent("email.delivered", crypto.randomUUID(), at(1))),
      );
      assert.equal(res.status, 503);
      assert.match((await res.json()).message, /RESEND_WEBHOOK_SECRET is missing/);
    });

    await t.step("/health names it", async () => {
      const body = await (await app.handler(
        healthDetailsRequest(),
      )).json();
      assert.equal(body.settings.RESEND_WEBHOOK_SECRET, "missing");
      assert.ok(body.problems.some((p: string) => p.startsWith("RESEND_WEBHOOK_SECRET")));
    });

    await t.step("unsubscribing still works", async () => {
      const userId = newUserId();
      const res = await app.handler(oneClickPost(await unsubscribeUrlFor(userId)));
      assert.equal(res.status, 200);
      await res.body?.cancel();
      assert.equal((await readPreference(sql, userId))?.source, "one_click");
    });
  });
});
