/**
 * The product newsletter, end to end: Clerk events driven through the
 * signed /inngest route by the engine (which plays by the function's own
 * concurrency and retries), the routes called like Mailchimp, Resend and a
 * mail client call them, and the provider stand-ins recording every request
 * they receive.
 */
import assert from "node:assert/strict";
import type postgres from "postgres";
import type { App } from "../functions/app.ts";
import type { Env } from "../functions/settings.ts";
import { appAt } from "./support/app.ts";
import { clerkPayload, newMessageId, newUserId } from "./support/clerk.ts";
import { oneClickPost, unsubscribeUrlFor } from "./support/email_preferences.ts";
import { healthDetailsRequest, TEST_SIGNING_KEY } from "./support/env.ts";
import { type EventApi, startEventApi } from "./support/event_api.ts";
import type { RunEvent } from "./support/inngest_cloud.ts";
import { type InngestEngine, startInngestEngine } from "./support/inngest_engine.ts";
import { type MailchimpApi, md5Hash, startMailchimpApi } from "./support/mailchimp_api.ts";
import { withPostgrest } from "./support/postgrest.ts";
import { type ResendApi, startResendApi } from "./support/resend_api.ts";
import { signedResendRequest } from "./support/resend_webhook.ts";
import { type SimClock, simClock } from "./support/sim_clock.ts";

/** The secret in Mailchimp's webhook URL, in tests. */
export const TEST_MAILCHIMP_WEBHOOK_SECRET = "mailchimp-webhook-secret-" + "9f".repeat(8);
const SEGMENT_ID = "seg_newsletter_test";
const FUNCTION_ID = "newsletter-subscription";

type ProviderName = "mailchimp" | "resend";

interface World {
  sql: postgres.Sql;
  app: App;
  engine: InngestEngine;
  clock: SimClock;
  mailchimp: MailchimpApi;
  resend: ResendApi;
  events: EventApi;
}

async function withNewsletter(
  provider: ProviderName | "off",
  fn: (w: World) => Promise<void>,
  env: Env = {},
  engineOptions: { parallelism?: number } = {},
) {
  await withPostgrest(async (sql, postgrest) => {
    const clock = simClock();
    const mailchimp = startMailchimpApi({ now: clock.now });
    const resend = startResendApi({ now: clock.now });
    const events = startEventApi();
    const providerEnv: Env = provider === "mailchimp"
      ? {
        MAILCHIMP_API_KEY: mailchimp.apiKey,
        MAILCHIMP_AUDIENCE_ID: mailchimp.audienceId,
        MAILCHIMP_API_URL: mailchimp.url,
        MAILCHIMP_WEBHOOK_SECRET: TEST_MAILCHIMP_WEBHOOK_SECRET,
      }
      : provider === "resend"
      ? { RESEND_NEWSLETTER_SEGMENT_ID: SEGMENT_ID }
      : {};
    try {
      const app = appAt(postgrest, {
        RESEND_BASE_URL: resend.url,
        INNGEST_EVENT_API_BASE_URL: events.url,
        ...providerEnv,
        ...env,
      });
      const engine = await startInngestEngine({
        handler: app.handler,
        signingKey: TEST_SIGNING_KEY,
        clock,
        ...engineOptions,
      });
      await fn({ sql, app, engine, clock, mailchimp, resend, events });
    } finally {
      await Promise.all([mailchimp.close(), resend.close(), events.close()]);
    }
  });
}

interface UserFacts {
  email?: string;
  consent?: unknown;
  firstName?: string;
  /** Clerk's updated_at; default now (real time, as the database compares it with now()). */
  updatedAt?: number;
}

function userEvent(
  type: "user.created" | "user.updated",
  id: string,
  facts: UserFacts,
): RunEvent {
  const payload = clerkPayload(type, {
    id,
    email_addresses: [{ id: "idn_primary", email_address: facts.email ?? `${id}@example.org` }],
    primary_email_address_id: "idn_primary",
    first_name: facts.firstName ?? "Ada",
    last_name: "Lovelace",
    unsafe_metadata: facts.consent === undefined ? {} : { newsletter: facts.consent },
    updated_at: facts.updatedAt ?? Date.now(),
  });
  return { id: newMessageId(), name: `clerk/${type}`, data: payload.data, ts: payload.timestamp };
}

function deletedEvent(id: string): RunEvent {
  const payload = clerkPayload("user.deleted", { id });
  return { id: newMessageId(), name: "clerk/user.deleted", data: payload.data, ts: Date.now() };
}

/** Sends `events` to the engine, runs everything, and checks the newsletter's runs completed. */
async function deliver(engine: InngestEngine, ...events: RunEvent[]) {
  const runs = engine.send(...events).filter((r) => r.functionId === FUNCTION_ID);
  await engine.runUntilIdle();
  for (const run of runs) {
    assert.equal(run.status, "completed", `${FUNCTION_ID} for ${run.event.name}: ${run.reason}`);
  }
  return runs;
}

/** Hands the events the app sent to Inngest (the event API stand-in) on to the engine. */
async function forwardSentEvents(w: World) {
  const sent = w.events.accepted.splice(0);
  await deliver(
    w.engine,
    ...sent.map((e) => ({
      id: e.id ?? newMessageId(),
      name: e.name,
      data: e.data,
      ts: e.ts ?? Date.now(),
    })),
  );
  return sent;
}

async function newsletterRow(sql: postgres.Sql, userId: string) {
  const [row] = await sql<
    {
      newsletter_opt_in_at: Date | null;
      newsletter_opt_out_at: Date | null;
      newsletter_source: string | null;
      newsletter_consent: boolean | null;
      newsletter_address: string | null;
      newsletter_unsubscribe_pending: boolean;
      newsletter_erased_at: Date | null;
    }[]
  >`select newsletter_opt_in_at, newsletter_opt_out_at, newsletter_source, newsletter_consent,
           newsletter_address, newsletter_unsubscribe_pending, newsletter_erased_at
      from public.email_preferences where user_id = ${userId}`;
  return row;
}

/** Every table and column of the public schema in which `needle` occurs, as text. */
async function tablesHolding(sql: postgres.Sql, needle: string): Promise<string[]> {
  const tables = await sql<{ table_name: string }[]>`
    select table_name from information_schema.tables
     where table_schema = 'public' and table_type = 'BASE TABLE'`;
  const found: string[] = [];
  for (const { table_name } of tables) {
    const [row] = await sql.unsafe(
      `select count(*)::int as n from public.${table_name} t
        where position(lower($1) in lower(t::text)) > 0`,
      [needle],
    );
    if (row.n > 0) found.push(table_name);
  }
  return found;
}

function mailchimpLine(r: MailchimpApi["received"][number]): string {
  const body = r.body ?? {};
  const fields = Object.entries(body).map(([k, v]) =>
    `${k}=${typeof v === "object" ? JSON.stringify(v) : v}`
  );
  return `${r.method} ${r.path.replace(/^\/3\.0/, "")}${
    fields.length ? " " + fields.join(" ") : ""
  } -> ${r.status}`;
}

function resendLine(r: ResendApi["contactRequests"][number]): string {
  return `${r.method} ${r.path}${r.body ? " " + r.body : ""} -> ${r.status}`;
}

function mailchimpWebhook(
  method: "GET" | "POST",
  secret: string | undefined,
  form?: Record<string, string>,
): Request {
  const query = secret === undefined ? "" : `?secret=${encodeURIComponent(secret)}`;
  return new Request(`http://localhost/clerk-events/mailchimp-webhook${query}`, {
    method,
    headers: form ? { "content-type": "application/x-www-form-urlencoded" } : {},
    body: form ? new URLSearchParams(form).toString() : undefined,
  });
}

function mailchimpForm(type: string, email: string, listId: string): Record<string, string> {
  return {
    type,
    fired_at: "2026-12-02 10:00:00",
    "data[action]": "unsub",
    "data[reason]": type === "cleaned" ? "hard" : "manual",
    "data[id]": "8a25ff1d98",
    "data[list_id]": listId,
    "data[email]": email,
    "data[email_type]": "html",
    "data[merges][EMAIL]": email,
  };
}

async function status(res: Response): Promise<number> {
  await res.body?.cancel();
  return res.status;
}

Deno.test("a user's whole newsletter life on Mailchimp", async (t) => {
  await withNewsletter("mailchimp", async (w) => {
    const { mailchimp, sql, app } = w;
    const id = newUserId();
    const first = `nl.${id.toLowerCase()}@example.org`;
    const second = `Moved.${id}@Example.org`;

    await t.step("sign-up with consent: one PUT by the MD5 of the address", async () => {
      await deliver(w.engine, userEvent("user.created", id, { email: first, consent: true }));
      assert.deepEqual(mailchimp.received.map((r) => `${r.method} ${r.path}`), [
        `PUT /3.0/lists/${mailchimp.audienceId}/members/${md5Hash(first)}`,
      ]);
      assert.deepEqual(mailchimp.received[0].body, {
        email_address: first,
        status_if_new: "subscribed",
        merge_fields: { FNAME: "Ada", LNAME: "Lovelace" },
      });
      const row = await newsletterRow(sql, id);
      assert.equal(row.newsletter_source, "clerk_metadata");
      assert.ok(row.newsletter_opt_in_at, "the consent is recorded with its time");
      assert.equal(row.newsletter_address, first);
    });

    await t.step("address change: PATCH the old member to the new address", async () => {
      const before = mailchimp.received.length;
      await deliver(w.engine, userEvent("user.updated", id, { email: second, consent: true }));
      const sent = mailchimp.received.slice(before);
      assert.deepEqual(sent.map((r) => `${r.method} ${r.path}`), [
        `PATCH /3.0/lists/${mailchimp.audienceId}/members/${md5Hash(first)}`,
      ]);
      assert.equal(sent[0].body?.email_address, second);
      assert.equal(mailchimp.members.get(md5Hash(second))?.status, "subscribed");
      assert.equal(mailchimp.members.has(md5Hash(first)), false);
    });

    await t.step("one-click unsubscribe: recorded at once, then PATCH status", async () => {
      const before = mailchimp.received.length;
      assert.equal(await status(await app.handler(oneClickPost(await unsubscribeUrlFor(id)))), 200);
      const row = await newsletterRow(sql, id);
      assert.equal(row.newsletter_source, "one_click");
      assert.ok(row.newsletter_opt_out_at);
      assert.equal(row.newsletter_unsubscribe_pending, true, "pending until the provider confirms");
      const sent = await forwardSentEvents(w);
      assert.deepEqual(sent.map((e) => [e.name, e.data.id]), [
        ["clerk-events/newsletter.unsubscribe.requested", id],
      ]);
      const calls = mailchimp.received.slice(before);
      assert.deepEqual(calls.map((r) => `${r.method} ${r.path}`), [
        `PATCH /3.0/lists/${mailchimp.audienceId}/members/${md5Hash(second)}`,
      ]);
      assert.deepEqual(calls[0].body, { status: "unsubscribed" });
      assert.equal(mailchimp.members.get(md5Hash(second))?.status, "unsubscribed");
      assert.equal((await newsletterRow(sql, id)).newsletter_unsubscribe_pending, false);
    });

    await t.step(
      "deletion: delete-permanent, and no address or MD5 left in any table",
      async () => {
        const before = mailchimp.received.length;
        await deliver(w.engine, deletedEvent(id));
        assert.deepEqual(mailchimp.received.slice(before).map((r) => `${r.method} ${r.path}`), [
          `POST /3.0/lists/${mailchimp.audienceId}/members/${
            md5Hash(second)
          }/actions/delete-permanent`,
        ]);
        assert.equal(mailchimp.members.size, 0);
        for (const needle of [first, second, md5Hash(first), md5Hash(second)]) {
          assert.deepEqual(await tablesHolding(sql, needle), [], `tables holding ${needle}`);
        }
        const row = await newsletterRow(sql, id);
        assert.ok(row.newsletter_erased_at, "the tombstone stays");
      },
    );

    await t.step("a late user.updated after the deletion sends nothing", async () => {
      const before = mailchimp.received.length;
      await deliver(
        w.engine,
        userEvent("user.updated", id, { email: second, consent: true, updatedAt: Date.now() }),
      );
      assert.equal(mailchimp.received.length, before);
    });

    console.log(
      `Mailchimp requests for one user's life:\n${mailchimp.received.map(mailchimpLine).join("\n")}`
        .replaceAll(first, "<first address>").replaceAll(second, "<second address>"),
    );
  });
});

Deno.test("a user's whole newsletter life on Resend's contacts", async (t) => {
  await withNewsletter("resend", async (w) => {
    const { resend, sql, app } = w;
    const id = newUserId();
    const first = `nl.${id.toLowerCase()}@example.org`;
    const second = `moved.${id.toLowerCase()}@example.org`;
    const contactOf = (email: string) =>
      [...resend.contacts.values()].find((c) => c.email === email);

    await t.step("sign-up with consent: look up, then create with unsubscribed false", async () => {
      await deliver(w.engine, userEvent("user.created", id, { email: first, consent: true }));
      const calls = resend.contactRequests;
      assert.deepEqual(calls.map((r) => `${r.method} ${r.path} ${r.status}`), [
        `GET /contacts/${first} 404`,
        `POST /contacts 201`,
      ]);
      // resend-node#458: what the SDK put on the wire says unsubscribed: false.
      assert.deepEqual(JSON.parse(calls[1].body), {
        unsubscribed: false,
        email: first,
        first_name: "Ada",
        last_name: "Lovelace",
        segments: [{ id: SEGMENT_ID }],
      });
      assert.match(calls[1].body, /"unsubscribed":false/);
      assert.equal(contactOf(first)?.unsubscribed, false);
      assert.ok(contactOf(first)?.segments.has(SEGMENT_ID));
    });

    await t.step(
      "address change: the new contact is subscribed and the old one removed",
      async () => {
        const before = resend.contactRequests.length;
        await deliver(w.engine, userEvent("user.updated", id, { email: second, consent: true }));
        assert.deepEqual(
          resend.contactRequests.slice(before).map((r) => `${r.method} ${r.path} ${r.status}`),
          [
            `GET /contacts/${second} 404`,
            `POST /contacts 201`,
            `DELETE /contacts/${first} 200`,
          ],
        );
        assert.equal(contactOf(first), undefined);
        assert.equal(contactOf(second)?.unsubscribed, false);
      },
    );

    await t.step("one-click unsubscribe: PATCH unsubscribed true", async () => {
      const before = resend.contactRequests.length;
      assert.equal(await status(await app.handler(oneClickPost(await unsubscribeUrlFor(id)))), 200);
      await forwardSentEvents(w);
      const calls = resend.contactRequests.slice(before);
      assert.deepEqual(calls.map((r) => `${r.method} ${r.path}`), [`PATCH /contacts/${second}`]);
      assert.deepEqual(JSON.parse(calls[0].body), { unsubscribed: true });
      assert.equal(contactOf(second)?.unsubscribed, true);
    });

    await t.step("deletion: the contact is removed, and no address left in any table", async () => {
      const before = resend.contactRequests.length;
      await deliver(w.engine, deletedEvent(id));
      assert.deepEqual(
        resend.contactRequests.slice(before).map((r) => `${r.method} ${r.path}`),
        [`DELETE /contacts/${second}`],
      );
      assert.equal(contactOf(second), undefined);
      for (const needle of [second, md5Hash(second)]) {
        assert.deepEqual(await tablesHolding(sql, needle), [], `tables holding ${needle}`);
      }
    });

    console.log(
      `Resend contacts requests for one user's life:\n${
        resend.contactRequests.map(resendLine).join("\n")
      }`.replaceAll(first, "<first address>").replaceAll(second, "<second address>"),
    );
  });
});

Deno.test("Resend: an address that is already a contact is updated, never created twice", async () => {
  await withNewsletter("resend", async (w) => {
    const email = `shared.${newUserId().toLowerCase()}@example.org`;
    await deliver(w.engine, userEvent("user.created", newUserId(), { email, consent: true }));
    const before = w.resend.contactRequests.length;
    await deliver(w.engine, userEvent("user.created", newUserId(), { email, consent: true }));
    assert.deepEqual(
      w.resend.contactRequests.slice(before).map((r) => `${r.method} ${r.path.split("/")[1]}`),
      ["GET contacts", "PATCH contacts", "POST contacts"],
    );
    assert.equal([...w.resend.contacts.values()].filter((c) => c.email === email).length, 1);
  });
});

Deno.test("without consent nothing reaches the provider", async () => {
  for (const provider of ["mailchimp", "resend"] as const) {
    await withNewsletter(provider, async (w) => {
      const id = newUserId();
      const lookalikes: unknown[] = [undefined, false, "true", 1, null, { yes: true }];
      for (const consent of lookalikes) {
        await deliver(w.engine, userEvent("user.updated", id, { consent }));
      }
      // Consent in public_metadata is not the sign-up form's: not consent either.
      const event = userEvent("user.created", newUserId(), {});
      (event.data as Record<string, unknown>).public_metadata = { newsletter: true };
      await deliver(w.engine, event);
      assert.equal(w.mailchimp.received.length, 0, `${provider}: Mailchimp requests`);
      assert.equal(w.resend.contactRequests.length, 0, `${provider}: Resend contacts requests`);
    });
  }
});

Deno.test("an opt-out holds until Clerk shows consent changed to true after it", async (t) => {
  await withNewsletter("mailchimp", async (w) => {
    const { mailchimp, sql, app } = w;
    const id = newUserId();
    const email = `stay.out.${id.toLowerCase()}@example.org`;
    const hash = md5Hash(email);
    await deliver(w.engine, userEvent("user.created", id, { email, consent: true }));

    await t.step("Mailchimp's unsubscribe webhook records the opt-out", async () => {
      mailchimp.members.get(hash)!.status = "unsubscribed";
      const res = await app.handler(
        mailchimpWebhook(
          "POST",
          TEST_MAILCHIMP_WEBHOOK_SECRET,
          mailchimpForm("unsubscribe", email.toUpperCase(), mailchimp.audienceId),
        ),
      );
      assert.equal(await status(res), 200);
      const row = await newsletterRow(sql, id);
      assert.equal(row.newsletter_source, "mailchimp_unsubscribe");
      assert.ok(row.newsletter_opt_out_at);
      assert.equal(row.newsletter_unsubscribe_pending, false, "Mailchimp already knows");
    });

    await t.step("an update still carrying the earlier true is not new consent", async () => {
      const before = mailchimp.received.length;
      await deliver(
        w.engine,
        userEvent("user.updated", id, { email, consent: true, firstName: "Augusta" }),
        userEvent("user.updated", id, { email: `other.${email}`, consent: true }),
      );
      assert.deepEqual(mailchimp.received.slice(before).map(mailchimpLine), []);
      assert.equal(mailchimp.members.get(hash)?.status, "unsubscribed");
    });

    await t.step("an older event replayed after the opt-out does not count either", async () => {
      const before = mailchimp.received.length;
      await deliver(
        w.engine,
        userEvent("user.updated", id, { email, consent: false, updatedAt: Date.now() - 60_000 }),
        userEvent("user.updated", id, { email, consent: true, updatedAt: Date.now() - 30_000 }),
      );
      assert.equal(mailchimp.received.length, before);
    });

    await t.step("false, then true after the opt-out: re-subscribed as pending", async () => {
      const before = mailchimp.received.length;
      await deliver(w.engine, userEvent("user.updated", id, { email, consent: false }));
      assert.equal(mailchimp.received.length, before, "already out: nothing to send");
      await deliver(w.engine, userEvent("user.updated", id, { email, consent: true }));
      assert.deepEqual(
        mailchimp.received.slice(before).map((r) => `${r.method} ${JSON.stringify(r.body)}`),
        [
          `PUT ${
            JSON.stringify({
              email_address: email,
              status_if_new: "subscribed",
              merge_fields: { FNAME: "Ada", LNAME: "Lovelace" },
            })
          }`,
          `PATCH ${JSON.stringify({ status: "pending" })}`,
        ],
      );
      assert.equal(mailchimp.members.get(hash)?.status, "pending");
      const row = await newsletterRow(sql, id);
      assert.ok(
        row.newsletter_opt_out_at,
        "the opt-out stays on record: the consent came after it",
      );
      assert.equal(row.newsletter_source, "clerk_metadata");
    });

    await t.step("withdrawal in Clerk unsubscribes at the provider", async () => {
      const before = mailchimp.received.length;
      await deliver(w.engine, userEvent("user.updated", id, { email, consent: false }));
      assert.deepEqual(
        mailchimp.received.slice(before).map((r) => `${r.method} ${JSON.stringify(r.body)}`),
        [`PATCH ${JSON.stringify({ status: "unsubscribed" })}`],
      );
      const row = await newsletterRow(sql, id);
      assert.equal(row.newsletter_source, "clerk_metadata");
      assert.ok(row.newsletter_opt_out_at);
    });
  });
});

Deno.test("Mailchimp's webhook needs its secret, on GET and POST alike", async (t) => {
  await withNewsletter("mailchimp", async (w) => {
    const { mailchimp, sql, app } = w;
    const id = newUserId();
    const email = `webhook.${id.toLowerCase()}@example.org`;
    await deliver(w.engine, userEvent("user.created", id, { email, consent: true }));
    const cleaned = mailchimpForm("cleaned", email, mailchimp.audienceId);

    await t.step("GET with the secret is Mailchimp's check: 200", async () => {
      assert.equal(
        await status(await app.handler(mailchimpWebhook("GET", TEST_MAILCHIMP_WEBHOOK_SECRET))),
        200,
      );
    });

    await t.step("a wrong or missing secret is 401 and changes nothing", async () => {
      for (const secret of [undefined, "", "wrong", TEST_MAILCHIMP_WEBHOOK_SECRET + "x"]) {
        for (const method of ["GET", "POST"] as const) {
          const req = mailchimpWebhook(method, secret, method === "POST" ? cleaned : undefined);
          assert.equal(await status(await app.handler(req)), 401, `${method} secret=${secret}`);
        }
      }
      assert.equal((await newsletterRow(sql, id)).newsletter_opt_out_at, null);
    });

    await t.step("another audience's post changes nothing", async () => {
      const other = mailchimpForm("cleaned", email, "0000000000");
      const res = await app.handler(mailchimpWebhook("POST", TEST_MAILCHIMP_WEBHOOK_SECRET, other));
      assert.equal(await status(res), 200);
      assert.equal((await newsletterRow(sql, id)).newsletter_opt_out_at, null);
    });

    await t.step("cleaned records the opt-out as mailchimp_cleaned", async () => {
      const res = await app.handler(
        mailchimpWebhook("POST", TEST_MAILCHIMP_WEBHOOK_SECRET, cleaned),
      );
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { status: "opted_out" });
      assert.equal((await newsletterRow(sql, id)).newsletter_source, "mailchimp_cleaned");
    });
  });
});

Deno.test("Resend's contact.updated with unsubscribed: true records the opt-out", async () => {
  await withNewsletter("resend", async (w) => {
    const id = newUserId();
    const email = `contact.${id.toLowerCase()}@example.org`;
    await deliver(w.engine, userEvent("user.created", id, { email, consent: true }));
    const contact = [...w.resend.contacts.values()].find((c) => c.email === email)!;
    const payload = (unsubscribed: boolean) => ({
      type: "contact.updated",
      created_at: new Date().toISOString(),
      data: {
        id: contact.id,
        segment_ids: [SEGMENT_ID],
        created_at: new Date().toISOString(),
        updated_at: new Date().toISOString(),
        email,
        first_name: "Ada",
        last_name: "Lovelace",
        unsubscribed,
      },
    });
    let res = await w.app.handler(signedResendRequest(payload(false)));
    assert.equal(res.status, 200);
    assert.equal((await res.json()).status, "ignored");
    assert.equal((await newsletterRow(w.sql, id)).newsletter_opt_out_at, null);

    res = await w.app.handler(signedResendRequest(payload(true)));
    assert.equal(res.status, 200);
    assert.equal((await res.json()).status, "opted_out");
    const row = await newsletterRow(w.sql, id);
    assert.equal(row.newsletter_source, "resend");
    assert.equal(row.newsletter_unsubscribe_pending, false, "Resend already knows");
  });
});

Deno.test("the providers' 429 waits for their retry-after, and 500 is retried", async (t) => {
  await t.step("Mailchimp", async () => {
    await withNewsletter("mailchimp", async (w) => {
      w.mailchimp.fault = (n) =>
        n === 1 ? { status: 429, retryAfterSeconds: 42 } : n === 2 ? { status: 500 } : undefined;
      const id = newUserId();
      const [run] = await deliver(w.engine, userEvent("user.created", id, { consent: true }));
      const puts = w.mailchimp.received;
      assert.deepEqual(puts.map((r) => `${r.method} ${r.status}`), [
        "PUT 429",
        "PUT 500",
        "PUT 200",
      ]);
      assert.ok(puts[1].at - puts[0].at >= 42_000, `waited ${puts[1].at - puts[0].at} ms`);
      assert.deepEqual(run.result, { userId: id, outcome: "subscribed" });
    });
  });

  await t.step("Resend", async () => {
    await withNewsletter("resend", async (w) => {
      w.resend.contactFault = (n) =>
        n === 1 ? { status: 429, retryAfterSeconds: 7 } : n === 3 ? { status: 500 } : undefined;
      await deliver(w.engine, userEvent("user.created", newUserId(), { consent: true }));
      const calls = w.resend.contactRequests;
      assert.deepEqual(calls.map((r) => `${r.method} ${r.status}`), [
        "GET 429",
        "GET 404",
        "POST 500",
        "GET 404",
        "POST 201",
      ]);
      assert.ok(calls[1].at - calls[0].at >= 7_000, `waited ${calls[1].at - calls[0].at} ms`);
    });
  });
});

Deno.test("a burst of sign-ups stays under Mailchimp's 10 concurrent connections", async () => {
  await withNewsletter(
    "mailchimp",
    async (w) => {
      w.mailchimp.delayMs = 400;
      const ids = Array.from({ length: 30 }, () => newUserId());
      await deliver(w.engine, ...ids.map((id) => userEvent("user.created", id, { consent: true })));
      assert.equal(w.mailchimp.members.size, 30, "every consenting user subscribed");
      assert.ok(w.mailchimp.maxInFlight <= 8, `${w.mailchimp.maxInFlight} requests at once`);
      assert.ok(w.mailchimp.maxInFlight > 1, "the runs did overlap");
    },
    {},
    { parallelism: 32 },
  );
});

Deno.test("Mailchimp: moving to an address that is already a member", async () => {
  await withNewsletter("mailchimp", async (w) => {
    const id = newUserId();
    const old = `before.${id.toLowerCase()}@example.org`;
    const taken = `taken.${id.toLowerCase()}@example.org`;
    await deliver(w.engine, userEvent("user.created", id, { email: old, consent: true }));
    w.mailchimp.members.set(md5Hash(taken), {
      email_address: taken,
      status: "subscribed",
      merge_fields: {},
    });
    const before = w.mailchimp.received.length;
    await deliver(w.engine, userEvent("user.updated", id, { email: taken, consent: true }));
    assert.deepEqual(
      w.mailchimp.received.slice(before).map((r) => `${r.method} ${r.status}`),
      // The refused move, the lookup that finds the new address a member, then
      // subscribe it as it is and unsubscribe the old one.
      ["PATCH 400", "GET 200", "PUT 200", "PATCH 200"],
    );
    assert.equal(w.mailchimp.members.get(md5Hash(old))?.status, "unsubscribed");
    assert.equal(w.mailchimp.members.get(md5Hash(taken))?.status, "subscribed");
    assert.equal((await newsletterRow(w.sql, id)).newsletter_address, taken);
  });
});

Deno.test("one-click unsubscribe is kept while Inngest and the provider are down", async () => {
  await withNewsletter("mailchimp", async (w) => {
    const id = newUserId();
    const email = `outage.${id.toLowerCase()}@example.org`;
    await deliver(w.engine, userEvent("user.created", id, { email, consent: true }));
    w.events.fault = () => "error500";
    const res = await w.app.handler(oneClickPost(await unsubscribeUrlFor(id)));
    assert.equal(await status(res), 200, "the reader is unsubscribed whatever Inngest does");
    assert.equal((await newsletterRow(w.sql, id)).newsletter_unsubscribe_pending, true);
    assert.equal(w.events.accepted.length, 0);

    // Inngest is back; Mailchimp is down for the first two attempts.
    w.events.fault = () => "none";
    w.mailchimp.fault = (n, req) => req.method === "PATCH" && n <= 3 ? { status: 500 } : undefined;
    const sweep = w.app.functions.find((fn) => fn.id() === "newsletter-unsubscribe-sweep");
    assert.ok(sweep, "the sweep is registered");
    const { driveRun } = await import("./support/inngest_cloud.ts");
    const outcome = await driveRun({
      handler: w.app.handler,
      functionId: "newsletter-unsubscribe-sweep",
      event: { id: newMessageId(), name: "inngest/scheduled.timer", data: {}, ts: Date.now() },
      signingKey: TEST_SIGNING_KEY,
    });
    assert.deepEqual(outcome.result, { pending: 1 });
    await forwardSentEvents(w);
    assert.equal(w.mailchimp.members.get(md5Hash(email))?.status, "unsubscribed");
    assert.equal((await newsletterRow(w.sql, id)).newsletter_unsubscribe_pending, false);
  });
});

Deno.test("the newsletter's settings", async (t) => {
  const { parseNewsletterSettings } = await import("../functions/settings/newsletter.ts");
  const problems = (env: Env) => {
    const group = parseNewsletterSettings(env);
    return group.ok ? [] : [...group.problems];
  };
  const mailchimp = {
    MAILCHIMP_API_KEY: "0123456789abcdef0123456789abcdef-us21",
    MAILCHIMP_AUDIENCE_ID: "a1b2c3d4e5",
    MAILCHIMP_WEBHOOK_SECRET: TEST_MAILCHIMP_WEBHOOK_SECRET,
  };

  await t.step("off, and no problem, when neither provider is set", () => {
    assert.deepEqual(parseNewsletterSettings({ RESEND_API_KEY: "re_x" }), {
      ok: true,
      value: undefined,
    });
  });

  await t.step("Mailchimp: the data center comes from the key", () => {
    const group = parseNewsletterSettings(mailchimp);
    assert.ok(group.ok && group.value?.provider === "mailchimp");
    assert.equal(group.value.apiUrl, "https://us21.api.mailchimp.com/3.0");
  });

  await t.step("partly set names what is missing, never a value", () => {
    assert.deepEqual(problems({ MAILCHIMP_API_KEY: mailchimp.MAILCHIMP_API_KEY }), [
      "MAILCHIMP_AUDIENCE_ID is missing: the audience's id (Audience > Settings)",
      "MAILCHIMP_WEBHOOK_SECRET is missing: generate one with `openssl rand -hex 16`; " +
      "Mailchimp's webhook URL carries it, so that its unsubscribes reach us",
    ]);
    assert.match(
      problems({ ...mailchimp, MAILCHIMP_API_KEY: "0123456789abcdef" }).join(),
      /^MAILCHIMP_API_KEY must end with its data center/,
    );
    assert.match(
      problems({ MAILCHIMP_AUDIENCE_ID: "a1b2c3d4e5" }).join(),
      /MAILCHIMP_API_KEY is missing/,
    );
    assert.deepEqual(problems({ RESEND_NEWSLETTER_SEGMENT_ID: SEGMENT_ID }), [
      "RESEND_API_KEY is missing: Resend's contacts need it for the newsletter",
    ]);
    const all = problems({
      ...mailchimp,
      MAILCHIMP_API_URL: "not a url",
      MAILCHIMP_WEBHOOK_SECRET: "short",
    });
    assert.ok(all.every((p) => !p.includes("not a url") && !p.includes("short ")), all.join());
  });

  await t.step("both providers at once is a problem", () => {
    assert.match(
      problems({ ...mailchimp, RESEND_NEWSLETTER_SEGMENT_ID: SEGMENT_ID, RESEND_API_KEY: "re_x" })
        .join(),
      /both set/,
    );
  });

  await t.step("/health's details name the newsletter off, and stay 200", async () => {
    await withNewsletter("off", async ({ app }) => {
      const res = await app.handler(healthDetailsRequest());
      const body = await res.json();
      assert.equal(res.status, 200, JSON.stringify(body.problems));
      assert.match(body.optional_features.newsletter, /^off: /);
      assert.ok(!body.functions.includes(FUNCTION_ID), "no newsletter function while off");
      assert.equal(
        await status(await app.handler(mailchimpWebhook("GET", TEST_MAILCHIMP_WEBHOOK_SECRET))),
        404,
      );
    });
  });

  await t.step("/health's details say on, and list the functions, with Mailchimp", async () => {
    await withNewsletter("mailchimp", async ({ app }) => {
      const body = await (await app.handler(healthDetailsRequest())).json();
      assert.equal(body.optional_features.newsletter, "on");
      assert.ok(body.functions.includes(FUNCTION_ID));
    });
  });
});
