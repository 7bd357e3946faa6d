/**
 * Nothing of Clerk's message is kept: after codes that were sent, retried,
 * rate limited, refused (with Resend quoting the address), delivered by
 * Clerk, and sent while the database was down, no log line, no row of any
 * table and no event forwarded to Inngest holds the code, the subject, the
 * bodies or the address. And Resend's delivery events update the rows of
 * Clerk's emails, without opting anyone out of marketing email.
 */
import assert from "node:assert/strict";
import type postgres from "postgres";
import { authRow, type CodeEmail, codeEmail, withAuthEmails } from "./support/auth_emails.ts";
import { newMessageId, newUserId } from "./support/clerk.ts";
import { resendEvent, signedResendRequest } from "./support/resend_webhook.ts";

/** Phrases of the fixture's bodies, HTML and plain. */
const BODY_PHRASES = ["Enter the following verification code", "To protect your account"];

/** What of `email` is in `text`, by name; empty when nothing is. */
function leaks(text: string, email: CodeEmail, { address = true } = {}): string[] {
  const found: string[] = [];
  // The code on its own, not as digits inside a longer number or a fraction of a second.
  if (new RegExp(`(?<![\\d.])${email.code}(?!\\d)`).test(text)) found.push("code");
  if (text.includes(email.subject)) found.push("subject");
  for (const phrase of BODY_PHRASES) if (text.includes(phrase)) found.push(`body: ${phrase}`);
  if (address && text.toLowerCase().includes(email.to.toLowerCase())) found.push("address");
  return found;
}

/** Every row of every table outside PostgreSQL's own schemas, as JSON text per table. */
async function everyTable(sql: postgres.Sql): Promise<Map<string, string>> {
  const tables = await sql<{ schema: string; name: string }[]>`
    select table_schema as schema, table_name as name
      from information_schema.tables
     where table_type = 'BASE TABLE'
       and table_schema not in ('pg_catalog', 'information_schema')
     order by 1, 2`;
  const dumps = new Map<string, string>();
  for (const { schema, name } of tables) {
    const [{ rows }] = await sql.unsafe<{ rows: string | null }[]>(
      `select json_agg(t)::text as rows from "${schema}"."${name}" t`,
    );
    dumps.set(`${schema}.${name}`, rows ?? "");
  }
  return dumps;
}

Deno.test("no log line, table or forwarded event holds the code, the subject, the bodies or the address", async (t) => {
  await withAuthEmails(async ({ sql, postgrest, resend, inngest, logs, deliver }) => {
    const emails: CodeEmail[] = [];
    const answers: string[] = [];
    const send = async (email: CodeEmail, svixId = newMessageId()) => {
      emails.push(email);
      const answer = await deliver(email.payload, svixId);
      answers.push(JSON.stringify(answer.body), JSON.stringify([...answer.headers]));
      return answer;
    };

    const retried = codeEmail({ user_id: newUserId() });
    const retriedId = newMessageId();
    resend.fault = (n) =>
      n === 1 ? { status: 500 } : n === 2 ? { status: 429, retryAfterSeconds: 1 } : undefined;
    assert.equal((await send(retried, retriedId)).status, 502);
    assert.equal((await send(retried, retriedId)).status, 503);
    assert.equal((await send(retried, retriedId)).status, 200);
    resend.fault = (n) => n === 4 ? { status: 422 } : undefined;
    assert.equal(
      (await send(codeEmail())).status,
      200,
      "refused for good: Resend quoted the address",
    );
    resend.fault = () => undefined;
    assert.equal((await send(codeEmail({ delivered_by_clerk: true }))).status, 200);
    postgrest.double!.databaseDown = true;
    assert.equal((await send(codeEmail())).status, 200, "sent while the database was down");
    postgrest.double!.databaseDown = false;
    assert.equal(resend.received.length, 5, "the scenario reached Resend as planned");
    assert.ok(
      resend.received.some((r) => r.body.includes(emails[0].code)),
      "the stand-in did receive the content: the scans below look for the right strings",
    );

    await t.step("no log line", () => {
      assert.ok(logs.lines.length >= 8, `${logs.lines.length} lines captured`);
      for (const line of logs.lines) {
        for (const email of emails) assert.deepEqual(leaks(line, email), [], line);
      }
    });
    await t.step("no row of any table", async () => {
      const tables = await everyTable(sql);
      assert.ok(
        tables.get("public.email_deliveries")?.includes(retriedId),
        "the scan reads the ledger",
      );
      for (const [table, rows] of tables) {
        for (const email of emails) assert.deepEqual(leaks(rows, email), [], table);
      }
    });
    await t.step("no event forwarded to Inngest, whatever the feature did", () => {
      assert.equal(inngest.accepted.length, 4);
      for (const event of inngest.accepted) {
        for (const field of ["subject", "body", "body_plain", "data"]) {
          assert.ok(!(field in event.data), `${event.id} carries ${field}`);
        }
        // The address is Clerk's to_email_address, forwarded as Clerk sent it.
        for (const email of emails) {
          assert.deepEqual(leaks(JSON.stringify(event), email, { address: false }), []);
        }
      }
    });
    await t.step("no answer of the webhook", () => {
      for (const answer of answers) {
        for (const email of emails) assert.deepEqual(leaks(answer, email), [], answer);
      }
    });
  });
});

Deno.test("Resend's delivery events update the rows of Clerk's emails, and opt nobody out", async (t) => {
  await withAuthEmails(async ({ app, sql, resend, deliver }) => {
    const post = async (
      type: "email.delivered" | "email.complained" | "email.bounced",
      id: string,
      minute: number,
    ) => {
      const at = new Date(Date.UTC(2026, 11, 1, 9, minute));
      const res = await app.handler(signedResendRequest(resendEvent(type, id, at)));
      return { status: res.status, body: await res.json() };
    };

    await t.step("a sign-up code (no user yet): the event is recorded", async () => {
      const svixId = newMessageId();
      assert.equal((await deliver(codeEmail().payload, svixId)).status, 200);
      const resendId = resend.received.at(-1)!.id!;
      const answer = await post("email.delivered", resendId, 1);
      assert.deepEqual([answer.status, answer.body.status], [200, "updated"]);
      const [row] = await sql<{ last_event: string }[]>`
        select last_event from public.email_deliveries where svix_id = ${svixId}`;
      assert.equal(row.last_event, "delivered");
    });

    await t.step("a user's code that bounces or draws a complaint opts nobody out", async () => {
      const userId = newUserId();
      const svixId = newMessageId();
      assert.equal((await deliver(codeEmail({ user_id: userId }).payload, svixId)).status, 200);
      const resendId = (await authRow(sql, svixId)).resend_id!;
      assert.equal((await post("email.bounced", resendId, 2)).body.status, "updated");
      assert.equal((await post("email.complained", resendId, 3)).body.status, "updated");
      const prefs = await sql`select 1 from public.email_preferences where user_id = ${userId}`;
      assert.equal(prefs.length, 0, "no marketing opt-out from one of Clerk's emails");
    });
  });
});
