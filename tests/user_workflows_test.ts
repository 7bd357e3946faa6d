import assert from "node:assert/strict";
import { InngestTestEngine } from "@inngest/test";
import type { App } from "../functions/app.ts";
import { appAt as appFor } from "./support/app.ts";
import { within } from "./support/bounded.ts";
import { clerkPayload, newMessageId, newUserId } from "./support/clerk.ts";
import { TEST_SIGNING_KEY } from "./support/env.ts";
import { driveRun, type RunEvent } from "./support/inngest_cloud.ts";
import { withPostgrest } from "./support/postgrest.ts";
import { readUser } from "./support/users.ts";

function fn(app: App, id: string) {
  const found = app.functions.find((f) => f.id() === id);
  assert.ok(found, `function ${id} is served`);
  return found;
}

/** Runs `fnId` once on `events` in a fresh test engine (engines keep state between runs). */
function run(app: App, fnId: string, ...events: RunEvent[]) {
  return within(
    new InngestTestEngine({ function: fn(app, fnId) }).execute({ events: events as [RunEvent] }),
    30_000,
    `${fnId} to finish in the test engine for event ${events[0]?.id}`,
  );
}

function event(type: "user.created" | "user.updated" | "user.deleted", data = {}): RunEvent {
  const payload = clerkPayload(type, data);
  return { id: newMessageId(), name: `clerk/${type}`, data: payload.data, ts: payload.timestamp };
}

Deno.test("sync-user-from-clerk mirrors Clerk users into public.users", async (t) => {
  await withPostgrest(async (sql, postgrest) => {
    const app = appFor(postgrest);
    const sync = (e: RunEvent) => run(app, "sync-user-from-clerk", e);
    await t.step(
      "user.created inserts the user with the primary address, not the first",
      async () => {
        const id = newUserId();
        const { result, error } = await sync(event("user.created", { id }));
        assert.equal(error, undefined);
        assert.deepEqual(result, { userId: id, outcome: "inserted" });
        const user = await readUser(sql, id);
        assert.equal(user?.email, "example@example.org");
        assert.equal(user?.first_name, "Example");
        assert.equal(user?.image_url, "https://img.clerk.com/xxxxxx");
        assert.equal(user?.clerk_updated_at?.getTime(), 1654012591835);
      },
    );

    await t.step(
      "a later user.updated updates it, and the older event replayed is stale",
      async () => {
        const id = newUserId();
        const created = event("user.created", { id });
        await sync(created);
        const updated = await sync(event("user.updated", { id }));
        assert.deepEqual(updated.result, { userId: id, outcome: "updated" });
        const replay = await sync(created);
        assert.deepEqual(replay.result, { userId: id, outcome: "stale" });
        const user = await readUser(sql, id);
        assert.equal(user?.first_name, "Updated");
        assert.equal(user?.username, "example_user");
      },
    );

    await t.step("a user without a primary address is stored with no email", async () => {
      const id = newUserId();
      await sync(event("user.created", { id, primary_email_address_id: null }));
      assert.equal((await readUser(sql, id))?.email, null);
    });

    await t.step("a NUL character in a name is dropped instead of failing forever", async () => {
      const id = newUserId();
      const { error } = await sync(event("user.created", { id, first_name: "Ex\u0000ample" }));
      assert.equal(error, undefined);
      assert.equal((await readUser(sql, id))?.first_name, "Example");
    });

    await t.step("data that is not a Clerk user fails without retries", async () => {
      const { error } = await sync({ ...event("user.created"), data: { id: 42 } });
      // The SDK validates the event against the shared schema before the
      // handler runs; EventValidationError is its NonRetriableError. The
      // engine hands errors back serialized, so compare by name.
      assert.equal((error as Error).name, "EventValidationError");
    });

    await t.step({
      name: "an unreachable database fails the step so that Inngest retries it",
      // Only the double can take the database away: ignored on the real stack.
      ignore: !postgrest.double,
      fn: async () => {
        postgrest.double!.databaseDown = true;
        try {
          const id = newUserId();
          const { error } = await sync(event("user.created", { id }));
          assert.equal((error as Error).name, "Error", "a plain, retriable error");
          assert.match((error as Error).message, new RegExp(`Cannot sync user "${id}"`));
          assert.equal(await readUser(sql, id), undefined);
        } finally {
          postgrest.double!.databaseDown = false;
        }
      },
    });
  });
});

Deno.test("delete-user-from-clerk erases the user and keeps a tombstone", async (t) => {
  await withPostgrest(async (sql, postgrest) => {
    const app = appFor(postgrest);
    const sync = (e: RunEvent) => run(app, "sync-user-from-clerk", e);
    const erase = (e: RunEvent) => run(app, "delete-user-from-clerk", e);
    await t.step("user.deleted erases personal data at the event's time", async () => {
      const id = newUserId();
      await sync(event("user.created", { id }));
      const deleted = event("user.deleted", { id });
      const { result } = await erase(deleted);
      assert.deepEqual(result, { userId: id, outcome: "deleted" });
      const user = await readUser(sql, id);
      assert.equal(user?.email, null);
      assert.equal(user?.first_name, null);
      assert.equal(user?.deleted_at?.getTime(), deleted.ts);
    });

    await t.step(
      "a user.updated that arrives after the delete does not restore the user",
      async () => {
        const id = newUserId();
        await erase(event("user.deleted", { id }));
        const { result } = await sync(event("user.updated", { id }));
        assert.deepEqual(result, { userId: id, outcome: "deleted" });
        assert.equal((await readUser(sql, id))?.email, null);
      },
    );
  });
});

Deno.test("the /inngest route serves the workflows to Inngest Cloud", async (t) => {
  await withPostgrest(async (sql, postgrest) => {
    const app = appFor(postgrest);
    // Which signatures /inngest accepts is specified in security_test.ts.
    await t.step("a signed run of sync-user-from-clerk writes the row", async () => {
      const id = newUserId();
      const outcome = await driveRun({
        handler: app.handler,
        functionId: "sync-user-from-clerk",
        event: event("user.created", { id }),
        signingKey: TEST_SIGNING_KEY,
      });
      assert.deepEqual(outcome.result, { userId: id, outcome: "inserted" });
      assert.deepEqual(outcome.ops.map((op) => op.displayName ?? op.name), ["upsert-user"]);
      assert.equal((await readUser(sql, id))?.email, "example@example.org");
    });
  });
});
