/**
 * Nothing lost, nothing duplicated, no deleted user back, under faults.
 *
 * 1. Deliveries: a Svix-like retrier sends a shuffled stream of deliveries
 *    (a share of them repeating an earlier svix-id) over HTTP to the
 *    function, while Inngest's event API fails some requests and hangs on
 *    others. Every non-2xx is retried with backoff, as Svix does.
 * 2. Workflows: the events Inngest accepted (one per id, as Inngest keeps
 *    them) run through the three workflows, driven like Inngest Cloud with
 *    retries, while the database refuses connections for a window and
 *    Resend answers 429, then 500, then success for every email.
 *
 * `SOAK_USERS` sets the number of users (default 500, `deno task test:soak`
 * uses more). Every figure printed at the end is a count from the run.
 */
import assert from "node:assert/strict";
import { createApp } from "../functions/app.ts";
import { signHeaders } from "./support/clerk.ts";
import { captureLogs, TEST_SIGNING_KEY, testEnv } from "./support/env.ts";
import { type Fault, type ReceivedEvent, startEventApi } from "./support/event_api.ts";
import { driveRun } from "./support/inngest_cloud.ts";
import { withPostgrest } from "./support/postgrest.ts";
import { startResendApi } from "./support/resend_api.ts";
import { readUser } from "./support/users.ts";
import { buildWorkload, type Message, random } from "./support/workload.ts";

const USERS = Number(Deno.env.get("SOAK_USERS") ?? 500);
const SEED = Number(Deno.env.get("SOAK_SEED") ?? 20261129);
const SENDERS = 16;
const RUNNERS = 8;

/** Runs `work` over `items` with `width` workers. */
async function pool<T>(items: readonly T[], width: number, work: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await work(items[next++]);
    }),
  );
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

Deno.test(`nothing is lost or duplicated under faults (${USERS} users)`, async (t) => {
  await withPostgrest(async (sql, postgrest) => {
    const workload = buildWorkload({ users: USERS, seed: SEED });
    const events = startEventApi();
    const resend = startResendApi();
    const logs = captureLogs();
    const background: Promise<unknown>[] = [];
    const app = createApp(
      testEnv({
        INNGEST_EVENT_API_BASE_URL: events.url,
        SUPABASE_URL: postgrest.url,
        SUPABASE_SERVICE_ROLE_KEY: postgrest.serviceKey,
        RESEND_BASE_URL: resend.url,
      }),
      {
        logger: logs.logger,
        // Short enough that a hang, or two failures in a row, outlast the
        // deadline: the function answers 504 and the retrier must resend.
        sendDeadlineMs: 300,
        inngestRequestTimeoutMs: 200,
        waitUntil: (p) => background.push(p),
      },
    );
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, app.handler);
    const webhookUrl = `http://127.0.0.1:${server.addr.port}/functions/v1/clerk-events/webhook`;

    const faults = { event500: 0, eventHang: 0, database: 0, resend429: 0, resend500: 0 };
    const roll = random(SEED + 1);
    events.fault = (): Fault => {
      const r = roll();
      if (r < 0.10) return faults.event500++, "error500";
      if (r < 0.12) return faults.eventHang++, "hang";
      return "none";
    };
    const acceptedIds = () => new Set(events.accepted.map((e: ReceivedEvent) => e.id));

    const counts = { requests: 0, ok: 0, okNotAccepted: 0, lost: 0, retried: 0 };
    try {
      await t.step("every delivery reaches Inngest as exactly one event id", async () => {
        const started = performance.now();
        await pool(workload.deliveries, SENDERS, async (message: Message) => {
          for (let attempt = 0; attempt < 12; attempt++) {
            counts.requests += 1;
            const res = await fetch(webhookUrl, {
              method: "POST",
              headers: {
                "content-type": "application/json",
                ...signHeaders(message.body, { id: message.svixId }),
              },
              body: message.body,
            });
            await res.body?.cancel();
            if (res.ok) {
              counts.ok += 1;
              if (!acceptedIds().has(message.svixId)) counts.okNotAccepted += 1;
              return;
            }
            counts.retried += 1;
            await sleep(Math.min(10 * 2 ** attempt, 400));
          }
          counts.lost += 1;
        });
        await Promise.allSettled(background);
        const accepted = acceptedIds();
        const unique = new Set(workload.deliveries.map((m) => m.svixId));
        const missing = [...unique].filter((id) => !accepted.has(id));
        const extra = [...accepted].filter((id) => !unique.has(id as string));
        console.error(
          `deliveries: ${workload.deliveries.length} (${unique.size} unique, ` +
            `${workload.duplicates} repeating an earlier svix-id), HTTP requests ${counts.requests} ` +
            `(${counts.retried} non-2xx answers resent), ` +
            `event API faults: ${faults.event500} x 500, ${faults.eventHang} hangs; ` +
            `events lost ${missing.length}, unknown ids ${extra.length}, ` +
            `2xx before acceptance ${counts.okNotAccepted}, ` +
            `raw repeats of an accepted id ${events.accepted.length - accepted.size} ` +
            `(Inngest drops these by id) in ${Math.round(performance.now() - started)} ms`,
        );
        assert.ok(faults.event500 > 0 && faults.eventHang > 0, "faults were injected");
        assert.equal(counts.lost, 0, "every delivery eventually got a 2xx");
        assert.deepEqual(missing, [], "every svix-id reached the event API");
        assert.deepEqual(extra, [], "no event id that Svix did not send");
        assert.equal(counts.okNotAccepted, 0, "no 2xx for an event that was not accepted");
        for (const event of events.accepted) {
          const message = workload.messages.get(event.id!)!;
          assert.equal(event.name, `clerk/${message.type}`);
        }
        const health = await fetch(`http://127.0.0.1:${server.addr.port}/clerk-events/health`);
        await health.body?.cancel();
        assert.equal(health.status, 200, "the function is still up and ready");
      });

      await t.step("the workflows converge under database and Resend faults", async () => {
        // Inngest keeps the first event per id.
        const byId = new Map<string, ReceivedEvent>();
        for (const event of events.accepted) if (!byId.has(event.id!)) byId.set(event.id!, event);
        const runs = [...byId.values()].flatMap((event) => {
          const run = (functionId: string) => ({ functionId, event });
          if (event.name === "clerk/user.created") {
            return [run("sync-user-from-clerk"), run("onboarding-emails")];
          }
          if (event.name === "clerk/user.updated") return [run("sync-user-from-clerk")];
          return [run("delete-user-from-clerk")];
        });
        // Every email: 429 (retry-after), then 500, then accepted.
        const attemptsByKey = new Map<string, number>();
        resend.fault = (_n, key) => {
          const attempt = (attemptsByKey.get(key ?? "") ?? 0) + 1;
          attemptsByKey.set(key ?? "", attempt);
          if (attempt === 1) return faults.resend429++, { status: 429, retryAfterSeconds: 1 };
          if (attempt === 2) return faults.resend500++, { status: 500 };
          return undefined;
        };
        // The database refuses connections for a window early in the runs.
        const double = postgrest.double;
        const outage = double
          ? (async () => {
            await sleep(300);
            double.databaseDown = true;
            await sleep(700);
            double.databaseDown = false;
          })()
          : Promise.resolve();
        const before = double?.calls.length ?? 0;
        const started = performance.now();
        let failedRuns = 0;
        await pool(runs, RUNNERS, async ({ functionId, event }) => {
          try {
            await driveRun({
              handler: app.handler,
              functionId,
              event: event as Parameters<typeof driveRun>[0]["event"],
              signingKey: TEST_SIGNING_KEY,
              maxAttempts: 11,
              retryDelayMs: (attempt) => Math.min(20 * 2 ** attempt, 500),
            });
          } catch (error) {
            failedRuns += 1;
            console.error(`run ${functionId} for ${event.id} failed: ${error}`);
          }
        });
        await outage;
        faults.database = double?.calls.slice(before).filter((c) => c.status === 503).length ?? 0;

        let resurrected = 0;
        let wrongState = 0;
        for (const user of workload.users.values()) {
          const row = await readUser(sql, user.id);
          if (user.deleted) {
            const clean = row?.deleted_at &&
              [row.email, row.first_name, row.last_name, row.username, row.image_url]
                .every((v) => v === null);
            if (!clean) resurrected += 1;
          } else if (
            row?.deleted_at !== null || row.email !== user.email ||
            row.first_name !== user.firstName ||
            row.clerk_updated_at?.getTime() !== user.updatedAt
          ) {
            wrongState += 1;
          }
        }
        const perUserKind = new Map<string, number>();
        for (const email of resend.delivered) {
          perUserKind.set(email.idempotencyKey!, (perUserKind.get(email.idempotencyKey!) ?? 0) + 1);
        }
        const duplicateEmails = [...perUserKind.values()].filter((n) => n > 1).length;
        const keys = resend.delivered.map((e) => e.idempotencyKey);
        const [pending] = await sql<{ count: number }[]>`
          select count(*)::int from public.email_deliveries where status = 'pending'`;
        console.error(
          `workflow runs: ${runs.length} (${failedRuns} failed) in ${
            Math.round(performance.now() - started)
          } ms; ` +
            `faults: ${faults.database} database refusals, ${faults.resend429} x 429, ${faults.resend500} x 500 from Resend; ` +
            `users ${workload.users.size}: wrong state ${wrongState}, resurrected ${resurrected}; ` +
            `emails delivered ${resend.delivered.length}, duplicate emails ${duplicateEmails}, ` +
            `keys reused with another body ${resend.conflicts}, deliveries left pending ${pending.count}`,
        );
        assert.ok(faults.resend429 > 0 && faults.resend500 > 0, "Resend faults were injected");
        if (double) assert.ok(faults.database > 0, "the database outage was hit");
        assert.equal(failedRuns, 0, "every run finished within its retries");
        assert.equal(wrongState, 0, "every live user is at their newest version");
        assert.equal(resurrected, 0, "every deleted user is a tombstone without personal data");
        assert.equal(duplicateEmails, 0, "at most one email per user and kind");
        assert.equal(new Set(keys).size, keys.length, "no idempotency key delivered twice");
        assert.equal(pending.count, 0, "every claimed delivery was recorded");
        const expectedKeys = new Set(
          [...workload.users.keys()].flatMap((
            id,
          ) => [`clerk-events/welcome/${id}`, `clerk-events/trial_offer/${id}`]),
        );
        assert.ok(keys.every((k) => expectedKeys.has(k!)), "every key names one user and one kind");
      });
    } finally {
      await server.shutdown();
      await events.close();
      await resend.close();
    }
  });
});
