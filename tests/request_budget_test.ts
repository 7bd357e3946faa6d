/**
 * The Clerk request budget bounds every wait: the on-demand sync goes first
 * and waits at most about 2 s, the reconcile leaves it headroom, and a
 * caller who cannot be served in time is told when to come back. Time is a
 * manual clock: nothing here waits for real time, and a wait on the budget
 * that should not happen never ends (the bounded waits then fail).
 */
import assert from "node:assert/strict";
import {
  createRequestLimiter,
  INTERACTIVE_MAX_WAIT_MS,
  interactiveReserve,
  type RequestBudgetExhaustedError,
  type RequestPriority,
} from "../functions/clerk/request_budget.ts";
import { DEFAULT_REQUEST_BUDGET } from "../functions/settings/clerk_api.ts";
import { RECONCILE_FUNCTION_ID } from "../functions/reconcile/reconcile_function.ts";
import { appAt } from "./support/app.ts";
import { within } from "./support/bounded.ts";
import { clerkUser, startClerkApi } from "./support/clerk_api.ts";
import { TEST_SIGNING_KEY } from "./support/env.ts";
import { driveRun } from "./support/inngest_cloud.ts";
import { manualClock } from "./support/manual_clock.ts";
import { withPostgrest } from "./support/postgrest.ts";
import { createTestInstance, mintSessionToken } from "./support/session_tokens.ts";

/**
 * A limiter on a manual clock, and a log of who started when. One start per
 * window is kept for interactive callers (unless `options` says otherwise),
 * so that the lanes show in small budgets.
 */
function budget(
  limit: number,
  periodMs: number,
  options: { backgroundMaxWaitMs?: number; interactiveReserve?: number } = {},
) {
  const clock = manualClock();
  const limiter = createRequestLimiter({
    limit,
    periodMs,
    clock,
    interactiveReserve: limit > 1 ? 1 : 0,
    ...options,
  });
  const started: { who: string; at: number }[] = [];
  const refused: { who: string; at: number; retryAfterSeconds: number }[] = [];
  /** Asks for a slot as `who`; the promise settles when it starts or is refused. */
  const ask = (who: string, priority: RequestPriority) =>
    limiter.acquire(priority).then(
      () => void started.push({ who, at: clock.now() }),
      (error: RequestBudgetExhaustedError) =>
        void refused.push({ who, at: clock.now(), retryAfterSeconds: error.retryAfterSeconds }),
    );
  return { clock, ask, started, refused };
}

Deno.test("the reconcile leaves headroom in the budget for the on-demand sync", async (t) => {
  await t.step("one start in fifty, at least one whole on-demand sync, never all", () => {
    assert.deepEqual(
      [1, 2, 3, 10, 50, 99, 100, 1000].map(interactiveReserve),
      [0, 1, 2, 2, 2, 2, 2, 20],
    );
  });

  await t.step(
    "background callers start 9 of 10; an interactive one still starts at once",
    async () => {
      const b = budget(10, 10_000);
      const background = Array.from(
        { length: 10 },
        (_, i) => b.ask(`reconcile ${i}`, "background"),
      );
      await b.clock.advance(0);
      assert.equal(b.started.length, 9, "the tenth background request waits");
      await within(b.ask("me/sync", "interactive"), 1_000, "the interactive request");
      assert.deepEqual(b.started.at(-1), { who: "me/sync", at: 0 });
      await b.clock.advance(10_000);
      await within(Promise.all(background), 1_000, "the background requests");
      assert.deepEqual(b.started.at(-1), { who: "reconcile 9", at: 10_000 });
      assert.deepEqual(b.refused, []);
    },
  );
});

Deno.test("interactive callers go first when a slot frees up", async () => {
  const b = budget(3, 10_000);
  const at = async (ms: number) => await b.clock.advance(ms - b.clock.now());
  const asks = [b.ask("A", "background")];
  await at(1_000);
  asks.push(b.ask("B", "background"));
  await at(2_000);
  asks.push(b.ask("X", "interactive"));
  await at(3_000);
  asks.push(b.ask("W", "background")); // asks first, waits: the window is full for it
  await at(9_000);
  asks.push(b.ask("Y", "interactive")); // asks later, but goes first
  await at(20_000);
  await within(Promise.all(asks), 1_000, "every request");
  assert.deepEqual(b.started, [
    { who: "A", at: 0 },
    { who: "B", at: 1_000 },
    { who: "X", at: 2_000 },
    { who: "Y", at: 10_000 }, // A left the window
    { who: "W", at: 12_000 }, // only once the background is under 2 of 3 again
  ]);
  assert.deepEqual(b.refused, []);
});

Deno.test("an interactive caller waits at most about 2 s, and beyond that is refused at once", async (t) => {
  const b = budget(2, 10_000);
  await b.ask("A", "interactive");
  await b.ask("B", "interactive");

  await t.step("a slot that frees up within 2 s is waited for", async () => {
    await b.clock.advance(10_000 - INTERACTIVE_MAX_WAIT_MS + 500);
    const waiting = [b.ask("C", "interactive"), b.ask("D", "interactive")];
    await b.clock.advance(0);
    assert.equal(b.started.length, 2, "C and D wait");
    await b.clock.advance(INTERACTIVE_MAX_WAIT_MS - 500);
    await within(Promise.all(waiting), 1_000, "C and D");
    assert.deepEqual(b.started.slice(2), [{ who: "C", at: 10_000 }, { who: "D", at: 10_000 }]);
  });

  await t.step("a slot further away is refused without waiting, with when to retry", async () => {
    await within(b.ask("E", "interactive"), 1_000, "the refusal"); // the clock never moved
    assert.deepEqual(b.refused, [{ who: "E", at: 10_000, retryAfterSeconds: 10 }]);
  });
});

Deno.test("a background caller's wait is bounded too", async (t) => {
  await t.step("a slot further away than its longest wait is refused at once", async () => {
    const b = budget(10, 60_000);
    for (let i = 0; i < 9; i++) await b.ask(`reconcile ${i}`, "background");
    await within(b.ask("reconcile 9", "background"), 1_000, "the refusal");
    assert.deepEqual(b.refused, [{ who: "reconcile 9", at: 0, retryAfterSeconds: 60 }]);
  });

  await t.step("a waiter overtaken by interactive callers is refused at its deadline", async () => {
    const b = budget(3, 10_000, { backgroundMaxWaitMs: 12_000 });
    await b.ask("A", "background");
    await b.ask("B", "background");
    await b.ask("X", "interactive");
    const waiting = b.ask("W", "background"); // expects a slot at 10 s
    await b.clock.advance(9_000);
    const interactive = ["Y1", "Y2", "Y3"].map((who) => b.ask(who, "interactive"));
    await b.clock.advance(3_000);
    await within(Promise.all([waiting, ...interactive]), 1_000, "every request");
    assert.deepEqual(b.started.slice(3).map((s) => s.who), ["Y1", "Y2", "Y3"]);
    assert.deepEqual(b.refused, [{ who: "W", at: 12_000, retryAfterSeconds: 8 }]);
    assert.equal(b.clock.pending(), 0, "nothing is left waiting");
  });
});

const acme = await createTestInstance("acme");

Deno.test("a reconcile using its whole share does not hold up /users/me/sync", async (t) => {
  await withPostgrest(async (_sql, postgrest) => {
    const clerk = startClerkApi({ rateLimit: undefined });
    clerk.jwks = { keys: [acme.jwk] };
    const clock = manualClock();
    // Every Backend API request, with the budget's time when it was sent.
    const sent: { at: number; path: string }[] = [];
    const recording: typeof fetch = (input, init) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      if (url.origin === clerk.url && url.pathname.startsWith("/v1/users")) {
        sent.push({ at: clock.now(), path: url.pathname });
      }
      return fetch(input, init);
    };
    // The default 50 per 10 s: the reconcile may start 48 per window, and
    // leaves 2 for one on-demand sync (the user and their memberships).
    const share = 50 - interactiveReserve(50);
    const app = appAt(postgrest, {
      CLERK_API_URL: clerk.url,
      CLERK_API_REQUEST_BUDGET: DEFAULT_REQUEST_BUDGET,
      CLERK_JWT_KEY: acme.publicKeyPem,
    }, {
      fetch: recording,
      clerkBudgetClock: clock,
      reconcile: { pageSize: 1, pagesPerStep: 10 },
    });
    const users = Array.from({ length: 60 }, (_, i) => clerkUser({ createdAt: 1_000 + i }));
    for (const user of users) clerk.putUser(user);
    const sync = async (id: string) => {
      const res = await app.handler(
        new Request("http://localhost/clerk-events/users/me/sync", {
          method: "POST",
          headers: { authorization: `Bearer ${await mintSessionToken(acme, { sub: id })}` },
        }),
      );
      return {
        status: res.status,
        retryAfter: res.headers.get("retry-after"),
        body: await res.json(),
      };
    };
    const lists = () => sent.filter((r) => r.path === "/v1/users").length;

    // A dry run writes nothing: the database is shared with the other tests.
    const run = driveRun({
      handler: app.handler,
      functionId: RECONCILE_FUNCTION_ID,
      event: {
        id: crypto.randomUUID(),
        name: "clerk-events/reconcile.requested",
        data: { dryRun: true },
        ts: Date.now(),
      },
      signingKey: TEST_SIGNING_KEY,
      maxRequests: 200,
    });
    let runDone = false;
    run.finally(() => runDone = true).catch(() => {});
    try {
      await t.step(
        "the reconcile starts its share of requests, then waits for the budget",
        async () => {
          const deadline = Date.now() + 30_000;
          while (lists() < share && Date.now() < deadline) {
            await new Promise((resolve) => setTimeout(resolve, 20));
          }
          assert.equal(lists(), share, `the reconcile listed ${share} pages`);
          await new Promise((resolve) => setTimeout(resolve, 200));
          assert.equal(lists(), share, "and waits for the window to move");
          assert.ok(!runDone, "the run is not over");
        },
      );

      await t.step("an on-demand sync starts at once, ahead of it", async () => {
        const answer = await within(sync(users[0].id), 5_000, "the sync");
        assert.equal(answer.status, 200, JSON.stringify(answer.body));
        assert.equal(answer.body.source, "clerk");
        assert.equal(clock.now(), 0, "no time passed on the budget's clock");
      });

      await t.step("the next one gets 503 with Retry-After, without waiting", async () => {
        const answer = await within(sync(users[1].id), 5_000, "the refused sync");
        assert.equal(answer.status, 503);
        assert.equal(answer.body.error, "clerk_budget_exhausted");
        assert.equal(answer.retryAfter, "10", "the first slot frees up in 10 s");
        assert.equal(sent.filter((r) => r.path === `/v1/users/${users[1].id}`).length, 0);
      });

      await t.step("the reconcile then finishes, never over its share of a window", async () => {
        for (let i = 0; i < 10 && !runDone; i++) {
          await clock.advance(10_000);
          for (let j = 0; j < 50 && !runDone && clock.pending() === 0; j++) {
            await new Promise((resolve) => setTimeout(resolve, 20));
          }
        }
        const outcome = await within(run, 10_000, "the reconcile");
        assert.equal((outcome.result as { status: string }).status, "succeeded");
        assert.equal(lists(), users.length + 1, "every page once, and the empty last one");
        const reconcile = sent.filter((r) => r.path === "/v1/users");
        for (const { at } of sent) {
          const inWindow = (r: { at: number }) => r.at >= at && r.at < at + 10_000;
          assert.ok(reconcile.filter(inWindow).length <= share, `reconcile window at ${at}`);
          assert.ok(sent.filter(inWindow).length <= 50, `budget window at ${at}`);
        }
      });
    } finally {
      if (!runDone) {
        // Let a failed step's run end rather than leave it waiting.
        for (let i = 0; i < 20 && !runDone; i++) await clock.advance(10_000);
      }
      await run.catch(() => {});
      await clerk.close();
    }
  });
});
