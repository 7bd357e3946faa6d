/**
 * The workflows' flow control, driven by an Inngest engine that reads it
 * from the functions' own registration (see tests/support/inngest_engine.ts)
 * on a simulated clock: the promises of the README, each shown by what
 * really happened (runs, requests to the serve route, requests to Resend).
 */
import assert from "node:assert/strict";
import type postgres from "postgres";
import type { App } from "../functions/app.ts";
import { appAt } from "./support/app.ts";
import type { Env } from "../functions/settings.ts";
import { clerkPayload, type FixtureType, newMessageId, newUserId } from "./support/clerk.ts";
import { tallyByKey } from "./support/email_counts.ts";
import { TEST_SIGNING_KEY } from "./support/env.ts";
import {
  type EngineRun,
  type InngestEngine,
  startInngestEngine,
} from "./support/inngest_engine.ts";
import type { RunEvent } from "./support/inngest_cloud.ts";
import { type Postgrest, withPostgrest } from "./support/postgrest.ts";
import { type ResendApi, startResendApi } from "./support/resend_api.ts";
import { type SimClock, simClock } from "./support/sim_clock.ts";
import { readUser, userRow, usersStoreAt } from "./support/users.ts";

interface World {
  sql: postgres.Sql;
  postgrest: Postgrest;
  resend: ResendApi;
  app: App;
  engine: InngestEngine;
  clock: SimClock;
}

const HOUR = 60 * 60 * 1000;

async function withEngine(
  fn: (w: World) => Promise<void>,
  options: { env?: Env; handler?: (app: App) => (req: Request) => Promise<Response> } = {},
) {
  await withPostgrest(async (sql, postgrest) => {
    const clock = simClock();
    const resend = startResendApi({ now: clock.now });
    const app = appAt(postgrest, { RESEND_BASE_URL: resend.url, ...options.env });
    try {
      const engine = await startInngestEngine({
        handler: options.handler?.(app) ?? app.handler,
        signingKey: TEST_SIGNING_KEY,
        clock,
      });
      await fn({ sql, postgrest, resend, app, engine, clock });
    } finally {
      await resend.close();
    }
  });
}

function clerkEvent(type: FixtureType, data: Record<string, unknown>): RunEvent {
  const payload = clerkPayload(type, data);
  return { id: newMessageId(), name: `clerk/${type}`, data: payload.data, ts: payload.timestamp };
}

function onboarding(engine: InngestEngine, userId: string): EngineRun[] {
  return engine.runsOf("onboarding-emails").filter((r) => r.event.data.id === userId);
}

function stepNames(run: EngineRun): string[] {
  return run.ops.map((op) => op.displayName ?? op.name ?? op.id);
}

Deno.test("onboarding-emails plays by its registered flow control", async (t) => {
  await withEngine(async ({ resend, engine, clock }) => {
    await t.step(
      "a user.deleted during the wait cancels the run before the trial offer",
      async () => {
        const id = newUserId();
        const [run] = engine.send(clerkEvent("user.created", { id })).filter((r) =>
          r.functionId === "onboarding-emails"
        );
        await engine.runUntilIdle({ stopWhen: () => run.status === "sleeping" });
        assert.equal(run.status, "sleeping", `onboarding for ${id} reached its wait`);
        engine.send(clerkEvent("user.deleted", { id }));
        await engine.runUntilIdle();
        assert.equal(run.status, "cancelled", `onboarding for ${id}: ${run.reason ?? run.status}`);
        assert.ok(!stepNames(run).includes("trial-offer-email"), "the trial-offer step never ran");
        const keys = resend.received.map((r) => r.idempotencyKey);
        assert.ok(keys.includes(`clerk-events/welcome/${id}`), "the welcome went out");
        assert.ok(
          !keys.includes(`clerk-events/trial_offer/${id}`),
          "Resend never saw a trial offer",
        );
      },
    );

    await t.step(
      "a second user.created for the same user within 24 h starts no run",
      async () => {
        const id = newUserId();
        engine.send(clerkEvent("user.created", { id }));
        await engine.runUntilIdle({ until: clock.now() + HOUR });
        engine.send(clerkEvent("user.created", { id }));
        await engine.runUntilIdle();
        const runs = onboarding(engine, id);
        assert.equal(runs.length, 1, `onboarding runs for ${id}`);
        assert.equal(runs[0].status, "completed", runs[0].reason);
        assert.ok(
          engine.skipped.some((s) =>
            s.reason === "idempotency" && s.functionId === "onboarding-emails" &&
            s.event.data.id === id
          ),
          "the replay was refused by the function's idempotency key",
        );
        const tally = tallyByKey(resend.received);
        assert.equal(tally.get(`clerk-events/welcome/${id}`)?.accepted, 1, "one welcome request");
        assert.equal(tally.get(`clerk-events/trial_offer/${id}`)?.accepted, 1, "one trial offer");
      },
    );

    await t.step(
      "past 24 h a replayed user.created starts a run, and the ledger alone stops a second email",
      async () => {
        const id = newUserId();
        engine.send(clerkEvent("user.created", { id }));
        await engine.runUntilIdle();
        // Inngest's idempotency key and Resend's idempotency key have both
        // expired by now: only public.email_deliveries remembers.
        clock.advance(25 * HOUR);
        engine.send(clerkEvent("user.created", { id }));
        await engine.runUntilIdle();
        const runs = onboarding(engine, id);
        assert.equal(runs.length, 2, `a second onboarding run for ${id} started`);
        assert.deepEqual(runs.map((r) => r.status), ["completed", "completed"]);
        assert.deepEqual(
          runs[1].result as Record<string, string>,
          { userId: id, welcome: "sent", trialOffer: "sent" },
          "the second run found both emails already handled",
        );
        const tally = tallyByKey(resend.received);
        assert.equal(tally.get(`clerk-events/welcome/${id}`)?.emails, 1, "one welcome email");
        assert.equal(tally.get(`clerk-events/trial_offer/${id}`)?.emails, 1, "one trial offer");
      },
    );

    await t.step(
      "a burst of sign-ups sends welcome emails no faster than EMAIL_MAX_SENDS_PER_SECOND",
      async () => {
        const limit = 2; // the default of EMAIL_MAX_SENDS_PER_SECOND, which testEnv keeps
        const ids = Array.from({ length: 3 * limit + 1 }, () => newUserId());
        const from = resend.received.length;
        const start = clock.now();
        engine.send(...ids.map((id) => clerkEvent("user.created", { id })));
        await engine.runUntilIdle({ until: start + 60_000 });
        const welcomes = resend.received.slice(from).filter((r) =>
          r.idempotencyKey?.startsWith("clerk-events/welcome/")
        );
        assert.equal(welcomes.length, ids.length, "every welcome was sent within a minute");
        const busiest = Math.max(
          ...welcomes.map((w) => welcomes.filter((o) => o.at >= w.at && o.at < w.at + 1000).length),
        );
        assert.ok(busiest <= limit, `${busiest} welcome emails within one second`);
        await engine.runUntilIdle();
      },
    );

    await t.step(
      "a 429 is retried after Resend's retry-after, on the simulated clock",
      async () => {
        const id = newUserId();
        const key = `clerk-events/welcome/${id}`;
        resend.fault = (_n, k) =>
          k === key && !resend.received.some((r) => r.idempotencyKey === key && r.status === 429)
            ? { status: 429, retryAfterSeconds: 600 }
            : undefined;
        try {
          engine.send(clerkEvent("user.created", { id }));
          await engine.runUntilIdle();
        } finally {
          resend.fault = () => undefined;
        }
        const attempts = resend.received.filter((r) => r.idempotencyKey === key);
        assert.deepEqual(attempts.map((r) => r.status), [429, 200]);
        assert.ok(
          attempts[1].at - attempts[0].at >= 600_000,
          `retried ${(attempts[1].at - attempts[0].at) / 1000} s after the 429, not before 600 s`,
        );
        assert.equal(onboarding(engine, id)[0].status, "completed");
      },
    );
  });
});

Deno.test("a changed email after a lost record is answered 409 and recorded, not resent", async (t) => {
  await withEngine(async ({ sql, postgrest, resend, engine }) => {
    await t.step({
      name: "the retry meets invalid_idempotent_request and records the first send",
      ignore: !postgrest.double,
      fn: async () => {
        const double = postgrest.double!;
        const id = newUserId();
        const users = usersStoreAt(postgrest);
        await users.upsert(userRow(id, 1, { email: "ada@example.com", first_name: "Ada" }));
        const [run] = engine.send(clerkEvent("user.created", { id })).filter((r) =>
          r.functionId === "onboarding-emails"
        );
        await engine.runUntilIdle({ stopWhen: () => run.status === "sleeping" });
        assert.equal(run.status, "sleeping", "onboarding reached its wait");
        // The trial offer is sent, then its record is lost: the step fails.
        let lost = 0;
        double.failCall = (fn) => fn === "record_email_delivery" && lost++ === 0;
        await engine.runUntilIdle({ stopWhen: () => lost > 0 && run.status === "retrying" });
        double.failCall = () => false;
        assert.equal(lost, 1, "the trial offer's record was lost once");
        // Before the retry, the user changes their name: the email differs.
        await users.upsert(userRow(id, 2, { email: "ada@example.com", first_name: "Grace" }));
        await engine.runUntilIdle();
        assert.equal(run.status, "completed", run.reason);
        const key = `clerk-events/trial_offer/${id}`;
        const requests = resend.received.filter((r) => r.idempotencyKey === key);
        assert.deepEqual(
          requests.map((r) => `${r.status} ${r.errorName ?? ""}`.trim()),
          ["200", "409 invalid_idempotent_request"],
        );
        assert.equal(tallyByKey(resend.received).get(key)?.emails, 1, "one trial offer email");
        const [row] = await sql<{ status: string; resend_id: string | null }[]>`
          select status, resend_id from public.email_deliveries
           where user_id = ${id} and kind = 'trial_offer'`;
        assert.equal(row.status, "sent");
      },
    });
  });
});

Deno.test("sync-user-from-clerk retries by its registered budget", async (t) => {
  await withEngine(async ({ sql, postgrest, engine, clock }) => {
    const retries = engine.config("sync-user-from-clerk").retries;
    /** Refuses the upsert for the user while `down()` says so; counts refusals. */
    const outage = (down: () => boolean) => {
      let refused = 0;
      postgrest.double!.failCall = (fn) =>
        fn === "upsert_user_from_clerk" && down() && ++refused > 0;
      return () => refused;
    };
    const syncOf = (id: string) =>
      engine.runsOf("sync-user-from-clerk").find((r) => r.event.data.id === id)!;

    await t.step({
      name: "a step failing on every one of its retries + 1 attempts fails the run",
      ignore: !postgrest.double,
      fn: async () => {
        const id = newUserId();
        const refused = outage(() => true);
        try {
          engine.send(clerkEvent("user.created", { id }));
          await engine.runUntilIdle();
        } finally {
          postgrest.double!.failCall = () => false;
        }
        const run = syncOf(id);
        assert.equal(run.status, "failed", `sync for ${id}`);
        assert.equal(refused(), retries + 1, "attempts made: the registered retries + 1");
        assert.equal(await readUser(sql, id), undefined);
      },
    });

    await t.step({
      name: "a step failing on all but its last attempt still syncs the user",
      ignore: !postgrest.double,
      fn: async () => {
        const id = newUserId();
        let left = retries;
        const refused = outage(() => left-- > 0);
        try {
          engine.send(clerkEvent("user.created", { id }));
          await engine.runUntilIdle();
        } finally {
          postgrest.double!.failCall = () => false;
        }
        assert.equal(syncOf(id).status, "completed", syncOf(id).reason);
        assert.equal(refused(), retries);
        assert.equal((await readUser(sql, id))?.email, "example@example.org");
      },
    });

    await t.step({
      name: "a database outage of 30 minutes does not lose a sync",
      ignore: !postgrest.double,
      fn: async () => {
        const id = newUserId();
        const end = clock.now() + 30 * 60 * 1000;
        outage(() => clock.now() < end);
        try {
          engine.send(clerkEvent("user.created", { id }));
          await engine.runUntilIdle();
        } finally {
          postgrest.double!.failCall = () => false;
        }
        assert.equal(syncOf(id).status, "completed", `sync for ${id}: ${syncOf(id).reason}`);
        assert.ok((await readUser(sql, id))?.email, "the user row exists");
      },
    });
  });
});

Deno.test("two events for one user never run the sync at the same time", async () => {
  const inFlight = new Map<string, number>();
  let most = 0;
  await withEngine(async ({ sql, engine }) => {
    const ids = Array.from({ length: 4 }, () => newUserId());
    for (const id of ids) {
      engine.send(
        clerkEvent("user.created", { id }),
        clerkEvent("user.updated", { id, updated_at: 1654012824306 }),
        clerkEvent("user.updated", { id, updated_at: 1654012824307, first_name: "Last" }),
      );
    }
    await engine.runUntilIdle();
    const syncs = engine.runsOf("sync-user-from-clerk");
    assert.equal(syncs.length, 12);
    assert.ok(syncs.every((r) => r.status === "completed"), "every sync completed");
    assert.equal(most, 1, "most requests in flight for one user's sync");
    for (const id of ids) assert.equal((await readUser(sql, id))?.first_name, "Last");
  }, {
    handler: (app) => async (req) => {
      if (!new URL(req.url).searchParams.get("fnId")?.endsWith("sync-user-from-clerk")) {
        return app.handler(req);
      }
      const { event } = await req.clone().json();
      const user = String(event.data.id);
      const now = (inFlight.get(user) ?? 0) + 1;
      inFlight.set(user, now);
      most = Math.max(most, now);
      try {
        return await app.handler(req);
      } finally {
        inFlight.set(user, inFlight.get(user)! - 1);
      }
    },
  });
});
