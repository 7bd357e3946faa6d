/**
 * `provision-account`, driven the way Inngest drives it: the project's engine
 * (tests/support/inngest_engine.ts) reads the app's registration, sends
 * `clerk/user.created` and runs every function that it triggers through the
 * real `/inngest` route, under each one's own flow control, on a simulated
 * clock. The accounts service is a stand-in that records every request.
 *
 * In your project it is `tests/provision_account_test.ts`, and its imports
 * start with `./support/` instead of `../../../tests/support/`.
 */
import assert from "node:assert/strict";
import { appAt } from "../../../tests/support/app.ts";
import { clerkPayload, newMessageId, newUserId } from "../../../tests/support/clerk.ts";
import { healthDetailsRequest, TEST_SIGNING_KEY } from "../../../tests/support/env.ts";
import type { RunEvent } from "../../../tests/support/inngest_cloud.ts";
import { startInngestEngine } from "../../../tests/support/inngest_engine.ts";
import { withPostgrest } from "../../../tests/support/postgrest.ts";

/** An accounts service that answers 500 to its first `failures` requests, then 201. */
function startAccountsService(failures: number) {
  const requests: { key: string | null; owner: string }[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const { owner_clerk_user_id: owner } = await req.json();
    requests.push({ key: req.headers.get("idempotency-key"), owner });
    if (requests.length <= failures) return new Response("unavailable", { status: 500 });
    return Response.json({ id: `acct_${owner}` }, { status: 201 });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/`,
    requests,
    close: () => server.shutdown(),
  };
}

/** A `clerk/user.created` event as the webhook sends it. */
function userCreated(userId: string): RunEvent {
  const payload = clerkPayload("user.created", { id: userId });
  return {
    id: newMessageId(),
    name: "clerk/user.created",
    data: payload.data,
    ts: payload.timestamp,
  };
}

Deno.test("provision-account creates one account per new user", async (t) => {
  await withPostgrest(async (_sql, postgrest) => {
    const accounts = startAccountsService(1);
    try {
      const app = appAt(postgrest, { ACCOUNTS_API_URL: accounts.url, EMAIL_DRY_RUN: "true" });
      const engine = await startInngestEngine({
        handler: app.handler,
        signingKey: TEST_SIGNING_KEY,
      });
      const runsFor = (userId: string) =>
        engine.runsOf("provision-account").filter((run) => run.event.data.id === userId);

      await t.step("it is served beside the project's own functions", () => {
        assert.ok(engine.functions.has("provision-account"), "provision-account is registered");
        assert.ok(engine.functions.has("sync-user-from-clerk"));
      });

      await t.step("/health names it on, and off without its setting", async () => {
        const health = async (env: Record<string, string | undefined>) => {
          const res = await appAt(postgrest, env).handler(healthDetailsRequest());
          return (await res.json()).optional_features.provision_account;
        };
        assert.equal(await health({ ACCOUNTS_API_URL: accounts.url }), "on");
        assert.equal(
          await health({ ACCOUNTS_API_URL: undefined }),
          "off: ACCOUNTS_API_URL is not set",
        );
      });

      await t.step("a failing service is retried with the same key: one account", async () => {
        const id = newUserId();
        engine.send(userCreated(id));
        await engine.runUntilIdle();
        const [run] = runsFor(id);
        assert.equal(run.status, "completed", run.reason);
        assert.deepEqual(run.result, { userId: id, accountId: `acct_${id}` });
        const key = `provision-account/${id}`;
        assert.deepEqual(accounts.requests, [{ key, owner: id }, { key, owner: id }]);
      });

      await t.step("a user.created replayed the same day starts no second run", async () => {
        const id = newUserId();
        engine.send(userCreated(id));
        // Until it is done, not until idle: onboarding's sleep would move the clock days on.
        await engine.runUntilIdle({ stopWhen: () => runsFor(id)[0]?.status === "completed" });
        const sent = accounts.requests.length;
        engine.send(userCreated(id)); // a new svix-id, as when a webhook is replayed
        await engine.runUntilIdle();
        assert.equal(runsFor(id).length, 1);
        assert.equal(accounts.requests.length, sent, "the service was not called again");
      });
    } finally {
      await accounts.close();
    }
  });
});
