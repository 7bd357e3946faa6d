/**
 * Nothing lost, nothing duplicated, no deleted user back, under faults.
 *
 * 1. Deliveries: a Svix-like retrier sends a shuffled stream of deliveries
 *    (a share of them repeating an earlier svix-id) over HTTP to the
 *    function, while Inngest's event API fails some requests, hangs on
 *    others, and accepts some events but loses the answer. Every non-2xx is
 *    retried, as Svix does.
 * 2. Workflows: the accepted events go to an Inngest engine that plays by
 *    the functions' registered flow control on a simulated clock, while the
 *    database refuses a window of requests and Resend answers 429, then 500,
 *    then success for every email.
 * 3. A day later, Svix repeats a few user.created deliveries: Inngest no
 *    longer deduplicates their ids, and Resend has forgotten the keys, so
 *    only the deliveries ledger stands between the user and a second email.
 *
 * Emails are counted from the Resend stand-in's raw record of requests, not
 * from what it kept. `SOAK_USERS` sets the number of users (default 500;
 * `deno task test:soak` uses more) and `SOAK_SEED` fixes users, ids, order
 * and faults; a failing run prints the command that replays it. Faults are
 * decided by the seed and the request (id and attempt), and the database
 * outage by request counts, never by timing.
 */
import assert from "node:assert/strict";
import { createApp } from "../functions/app.ts";
import { within } from "./support/bounded.ts";
import { signHeaders } from "./support/clerk.ts";
import { tallyByKey } from "./support/email_counts.ts";
import { captureLogs, TEST_SIGNING_KEY, testEnv } from "./support/env.ts";
import { type Fault, type ReceivedEvent, startEventApi } from "./support/event_api.ts";
import type { RunEvent } from "./support/inngest_cloud.ts";
import { startInngestEngine } from "./support/inngest_engine.ts";
import { withPostgrest } from "./support/postgrest.ts";
import { startResendApi } from "./support/resend_api.ts";
import { simClock } from "./support/sim_clock.ts";
import { readUser } from "./support/users.ts";
import { buildWorkload, hashOf, type Message } from "./support/workload.ts";

const USERS = Number(Deno.env.get("SOAK_USERS") ?? 500);
const SEED = Number(Deno.env.get("SOAK_SEED") ?? 20261129);
const SENDERS = 16;
const RUNNERS = 8;
const DAY = 24 * 60 * 60 * 1000;
const REPLAY = `SOAK_SEED=${SEED} SOAK_USERS=${USERS} deno test -A tests/faults_test.ts`;

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
  console.error(`faults suite: SOAK_SEED=${SEED} SOAK_USERS=${USERS}`);
  try {
    await faultsSuite(t);
  } catch (error) {
    console.error(`faults suite failed; replay it with: ${REPLAY}`);
    throw error;
  }
});

async function faultsSuite(t: Deno.TestContext) {
  await withPostgrest(async (sql, postgrest) => {
    const workload = buildWorkload({ users: USERS, seed: SEED });
    const clock = simClock();
    const events = startEventApi();
    const resend = startResendApi({ now: clock.now });
    const background: Promise<unknown>[] = [];
    const app = createApp(
      testEnv({
        INNGEST_EVENT_API_BASE_URL: events.url,
        SUPABASE_URL: postgrest.url,
        SUPABASE_SERVICE_ROLE_KEY: postgrest.serviceKey,
        RESEND_BASE_URL: resend.url,
      }),
      {
        logger: captureLogs().logger,
        // Short enough that a hang, or two failures in a row, outlast the
        // deadline: the function answers 504 and the retrier must resend.
        sendDeadlineMs: 300,
        inngestRequestTimeoutMs: 200,
        waitUntil: (p) => background.push(p),
      },
    );
    const engine = await startInngestEngine({
      handler: app.handler,
      signingKey: TEST_SIGNING_KEY,
      clock,
      parallelism: RUNNERS,
    });
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, app.handler);
    const webhookUrl = `http://127.0.0.1:${server.addr.port}/functions/v1/clerk-events/webhook`;

    // Event API faults, by svix-id and attempt: the first three messages get
    // one of each kind for sure (on the first request that carries them,
    // wherever they sit in a batch of the send batcher), the rest by the seed.
    const faults = {
      event500: 0,
      eventHang: 0,
      acceptedLost: 0,
      database: 0,
      resend429: 0,
      resend500: 0,
    };
    const unique = [...new Set(workload.deliveries.map((m) => m.svixId))];
    const forced = new Map<string, Fault>(
      (["hang", "error500", "acceptThenDrop"] as const).flatMap((f, i) =>
        unique[i] ? [[unique[i], f]] : []
      ),
    );
    const attemptsById = new Map<string, number>();
    events.fault = (_n, batch): Fault => {
      const id = batch[0]?.id ?? "";
      const attempt = (attemptsById.get(id) ?? 0) + 1;
      attemptsById.set(id, attempt);
      const pending = batch.find((event) => forced.has(event.id ?? ""))?.id;
      const forcedFault = pending === undefined ? undefined : forced.get(pending);
      if (pending !== undefined) forced.delete(pending);
      const r = hashOf(SEED, "event-api", id, attempt);
      const fault = forcedFault
        ? forcedFault
        : attempt > 3
        ? "none"
        : r < 0.08
        ? "error500"
        : r < 0.10
        ? "hang"
        : r < 0.12
        ? "acceptThenDrop"
        : "none";
      if (fault === "error500") faults.event500++;
      if (fault === "hang") faults.eventHang++;
      if (fault === "acceptThenDrop") faults.acceptedLost++;
      return fault;
    };
    const acceptedIds = () => new Set(events.accepted.map((e: ReceivedEvent) => e.id));
    const counts = { requests: 0, ok: 0, okNotAccepted: 0, lost: 0, retried: 0 };

    /** Sends `messages` as Svix would, retrying every non-2xx. */
    const deliver = async (messages: readonly Message[]) => {
      await pool(messages, SENDERS, async (message) => {
        for (let attempt = 0; attempt < 12; attempt++) {
          counts.requests += 1;
          const res = await within(
            fetch(webhookUrl, {
              method: "POST",
              headers: {
                "content-type": "application/json",
                ...signHeaders(message.body, { id: message.svixId }),
              },
              body: message.body,
            }),
            15_000,
            `the webhook's answer to ${message.svixId} (Svix waits 15 s)`,
          );
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
      await within(Promise.allSettled(background), 10_000, "sends still running after a 504");
    };
    // Inngest receives what its event API accepted; the engine drops
    // repeated ids itself. Fed in workload order, so that a seed replays.
    const order = new Map(unique.map((id, i) => [id, i]));
    let fed = 0;
    const feed = () => {
      const fresh = events.accepted.slice(fed);
      fed = events.accepted.length;
      fresh.sort((a, b) => order.get(a.id!)! - order.get(b.id!)!);
      engine.send(...(fresh as RunEvent[]));
    };

    try {
      await t.step("every delivery reaches Inngest as exactly one event id", async () => {
        const started = performance.now();
        await deliver(workload.deliveries);
        const accepted = acceptedIds();
        const missing = unique.filter((id) => !accepted.has(id));
        const extra = [...accepted].filter((id) => !order.has(id as string));
        console.error(
          `deliveries: ${workload.deliveries.length} (${unique.length} unique, ` +
            `${workload.duplicates} repeating an earlier svix-id), HTTP requests ${counts.requests} ` +
            `(${counts.retried} non-2xx answers resent), event API faults: ${faults.event500} x 500, ` +
            `${faults.eventHang} hangs, ${faults.acceptedLost} accepted with the answer lost; ` +
            `events lost ${missing.length}, unknown ids ${extra.length}, ` +
            `2xx before acceptance ${counts.okNotAccepted}, raw repeats of an accepted id ` +
            `${events.accepted.length - accepted.size} (Inngest drops these by id) in ${
              Math.round(performance.now() - started)
            } ms`,
        );
        if (unique.length >= 3) {
          assert.ok(faults.event500 > 0, "500s were injected");
          assert.ok(faults.eventHang > 0, "hangs were injected");
          assert.ok(faults.acceptedLost > 0, "lost answers were injected");
        }
        assert.equal(counts.lost, 0, "every delivery eventually got a 2xx");
        assert.deepEqual(missing, [], "every svix-id reached the event API");
        assert.deepEqual(extra, [], "no event id that Svix did not send");
        assert.equal(counts.okNotAccepted, 0, "no 2xx for an event that was not accepted");
        for (const event of events.accepted) {
          assert.equal(event.name, `clerk/${workload.messages.get(event.id!)!.type}`);
        }
        const health = await fetch(`http://127.0.0.1:${server.addr.port}/clerk-events/health`);
        await health.body?.cancel();
        assert.equal(health.status, 200, "the function is still up and ready");
      });

      await t.step("the workflows converge under database and Resend faults", async () => {
        // Every email: 429 (retry-after), then 500, then accepted.
        const attemptsByKey = new Map<string, number>();
        resend.fault = (_n, key) => {
          const attempt = (attemptsByKey.get(key ?? "") ?? 0) + 1;
          attemptsByKey.set(key ?? "", attempt);
          if (attempt === 1) return faults.resend429++, { status: 429, retryAfterSeconds: 1 };
          if (attempt === 2) return faults.resend500++, { status: 500 };
          return undefined;
        };
        // The database refuses a window of requests, counted, not timed.
        const double = postgrest.double;
        const window = { from: Math.max(5, USERS), length: Math.max(10, Math.round(USERS / 5)) };
        let rpc = 0;
        if (double) {
          double.failCall = () => {
            rpc += 1;
            const down = rpc > window.from && rpc <= window.from + window.length;
            if (down) faults.database++;
            return down;
          };
        }
        const started = performance.now();
        const start = clock.now();
        feed();
        await engine.runUntilIdle({ until: start + DAY + 60 * 60 * 1000 });
        // A day later, Svix repeats some user.created deliveries.
        await deliver(workload.late);
        feed();
        await engine.runUntilIdle();
        if (double) double.failCall = () => false;

        const byStatus = (status: string) => engine.runs.filter((r) => r.status === status);
        const failed = byStatus("failed");
        for (const run of failed.slice(0, 5)) {
          console.error(`run ${run.functionId} for ${run.event.id} failed: ${run.reason}`);
        }
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
        // Emails, recounted from every request Resend received.
        const tally = tallyByKey(resend.received);
        const emails = (kind: string, id: string) =>
          tally.get(`clerk-events/${kind}/${id}`)?.emails ?? 0;
        const alive = [...workload.users.values()].filter((u) => !u.deleted);
        const deleted = [...workload.users.values()].filter((u) => u.deleted);
        const welcomeNotOne = alive.filter((u) => emails("welcome", u.id) !== 1).length;
        const offerNotOne = alive.filter((u) => emails("trial_offer", u.id) !== 1).length;
        const offerToDeleted = deleted.filter((u) => emails("trial_offer", u.id) > 0).length;
        const all = [...tally.values()];
        const sum = (pick: (k: (typeof all)[number]) => number) =>
          all.reduce((n, k) => n + pick(k), 0);
        const duplicateEmails = sum((k) => Math.max(0, k.emails - 1));
        const keysWithTwoBodies = all.filter((k) => k.bodies > 1).length;
        const [pending] = await sql<{ count: number }[]>`
          select count(*)::int from public.email_deliveries where status = 'pending'`;
        const days = ((clock.now() - start) / DAY).toFixed(1);
        console.error(
          `workflow runs: ${engine.runs.length} (${byStatus("completed").length} completed, ` +
            `${byStatus("cancelled").length} cancelled by a delete, ${failed.length} failed; ` +
            `${engine.skipped.length} starts refused: ${
              engine.skipped.filter((s) => s.reason === "idempotency").length
            } by idempotency, ${
              engine.skipped.filter((s) => s.reason === "duplicate event id").length
            } repeated ids) over ${days} simulated days in ${
              Math.round(performance.now() - started)
            } ms; late repeats ${workload.late.length}; faults: ${faults.database} database ` +
            `refusals, ${faults.resend429} x 429, ${faults.resend500} x 500 from Resend; ` +
            `users ${workload.users.size} (${alive.length} alive, ${deleted.length} deleted): ` +
            `wrong state ${wrongState}, resurrected ${resurrected}`,
        );
        console.error(
          `Resend raw record: ${resend.received.length} requests, ${
            sum((k) => k.accepted)
          } accepted, ${sum((k) => k.emails)} emails (${
            sum((k) => k.accepted - k.emails)
          } replays answered from the key), ${sum((k) => k.conflicts)} x 409; ` +
            `alive users without exactly one welcome ${welcomeNotOne}, ` +
            `without exactly one trial offer ${offerNotOne}; deleted users with a trial offer ` +
            `${offerToDeleted}; duplicate emails ${duplicateEmails}; keys reused with another ` +
            `body ${keysWithTwoBodies}; deliveries left pending ${pending.count}`,
        );
        assert.ok(faults.resend429 > 0 && faults.resend500 > 0, "Resend faults were injected");
        if (double) assert.ok(faults.database > 0, "the database outage was hit");
        assert.equal(failed.length, 0, "every run finished within its retries");
        assert.equal(wrongState, 0, "every live user is at their newest version");
        assert.equal(resurrected, 0, "every deleted user is a tombstone without personal data");
        assert.equal(welcomeNotOne, 0, "every live user got exactly one welcome email");
        assert.equal(offerNotOne, 0, "every live user got exactly one trial offer");
        assert.equal(offerToDeleted, 0, "no deleted user got a trial offer");
        assert.equal(duplicateEmails, 0, "no email went out twice");
        assert.equal(keysWithTwoBodies, 0, "no idempotency key was reused with another body");
        assert.equal(pending.count, 0, "every claimed delivery was recorded");
      });
    } finally {
      await server.shutdown();
      await events.close();
      await resend.close();
    }
  });
}
