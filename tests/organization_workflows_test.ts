/**
 * Clerk's organization webhooks, end to end: the webhook validates them
 * with the shared schemas, and the two workflows (and delete-user-from-clerk,
 * through the database) mirror them.
 */
import assert from "node:assert/strict";
import { InngestTestEngine } from "@inngest/test";
import { type App, createApp } from "../functions/app.ts";
import { appAt } from "./support/app.ts";
import { within } from "./support/bounded.ts";
import { clerkPayload, type FixtureType, newMessageId, signedRequest } from "./support/clerk.ts";
import { captureLogs, TEST_SIGNING_KEY, testEnv } from "./support/env.ts";
import { startEventApi } from "./support/event_api.ts";
import { driveRun, type RunEvent } from "./support/inngest_cloud.ts";
import { readRegistration } from "./support/inngest_registration.ts";
import { withPostgrest } from "./support/postgrest.ts";
import { liveMemberships, newId, readMembership, readOrg } from "./support/organizations.ts";

const ORG_TYPES: FixtureType[] = [
  "organization.created",
  "organization.updated",
  "organization.deleted",
  "organizationMembership.created",
  "organizationMembership.updated",
  "organizationMembership.deleted",
];

Deno.test("the webhook forwards organization events, validated with the shared schemas", async (t) => {
  const api = startEventApi();
  try {
    const app = createApp(testEnv({ INNGEST_EVENT_API_BASE_URL: api.url }), {
      logger: captureLogs().logger,
    });
    for (const type of ORG_TYPES) {
      await t.step(`${type} becomes clerk/${type}, data unchanged`, async () => {
        const payload = clerkPayload(type, { a_field_clerk_adds_later: { nested: true } });
        const res = await app.handler(signedRequest(payload));
        assert.equal(res.status, 200, await res.clone().text());
        const event = api.accepted.at(-1)!;
        assert.equal(event.name, `clerk/${type}`);
        assert.deepEqual(event.data, payload.data, "unknown fields pass through");
        assert.equal(event.ts, payload.timestamp);
      });
    }
    await t.step("organization.deleted carries only {object, id, slug, deleted}", () => {
      const payload = clerkPayload("organization.deleted");
      assert.deepEqual(Object.keys(payload.data).sort(), ["deleted", "id", "object", "slug"]);
    });
    const invalid: [FixtureType, Record<string, unknown>, RegExp][] = [
      ["organization.created", { updated_at: "yesterday" }, /updated_at/],
      ["organization.deleted", { deleted: false }, /deleted/],
      ["organizationMembership.created", { public_user_data: { identifier: "x" } }, /user_id/],
      ["organizationMembership.deleted", { organization: null }, /organization/],
    ];
    for (const [type, patch, field] of invalid) {
      await t.step(`${type} with ${JSON.stringify(patch)} is refused with 400`, async () => {
        const before = api.accepted.length;
        const res = await app.handler(signedRequest(clerkPayload(type, patch)));
        assert.equal(res.status, 400);
        assert.match(JSON.stringify(await res.json()), field);
        assert.equal(api.accepted.length, before, "nothing sent to Inngest");
      });
    }
  } finally {
    await api.close();
  }
});

function fn(app: App, id: string) {
  const found = app.functions.find((f) => f.id() === id);
  assert.ok(found, `function ${id} is served`);
  return found;
}

function run(app: App, fnId: string, event: RunEvent) {
  return within(
    new InngestTestEngine({ function: fn(app, fnId) }).execute({ events: [event] as [RunEvent] }),
    30_000,
    `${fnId} to finish in the test engine for event ${event.id}`,
  );
}

function event(type: FixtureType, data: Record<string, unknown> = {}, ts?: number): RunEvent {
  const payload = clerkPayload(type, data);
  return {
    id: newMessageId(),
    name: `clerk/${type}`,
    data: payload.data,
    ts: ts ?? payload.timestamp,
  };
}

const SYNC_ORG = "sync-organization-from-clerk";
const SYNC_MEMBERSHIP = "sync-organization-membership-from-clerk";

Deno.test("sync-organization-from-clerk mirrors organizations", async (t) => {
  await withPostgrest(async (sql, postgrest) => {
    const app = appAt(postgrest);
    await t.step("created inserts it without its private metadata", async () => {
      const id = newId("org");
      const { result, error } = await run(app, SYNC_ORG, event("organization.created", { id }));
      assert.equal(error, undefined);
      assert.deepEqual(result, { organizationId: id, outcome: "inserted" });
      const org = await readOrg(sql, id);
      assert.equal(org?.name, "Acme Inc");
      assert.equal(org?.slug, "acme-inc");
      assert.deepEqual(org?.public_metadata, { plan: "team" });
      const [{ row }] = await sql`select row_to_json(o)::text as row from public.organizations o
                                   where id = ${id}`;
      assert.ok(!row.includes("never stored"), row);
    });

    await t.step("updated wins, and the older created replayed is stale", async () => {
      const id = newId("org");
      const created = event("organization.created", { id });
      await run(app, SYNC_ORG, created);
      const updated = await run(app, SYNC_ORG, event("organization.updated", { id }));
      assert.deepEqual(updated.result, { organizationId: id, outcome: "updated" });
      assert.deepEqual((await run(app, SYNC_ORG, created)).result, {
        organizationId: id,
        outcome: "stale",
      });
      assert.equal((await readOrg(sql, id))?.name, "Acme Incorporated");
    });

    await t.step("deleted tombstones it at the event's ts, for good", async () => {
      const id = newId("org");
      await run(app, SYNC_ORG, event("organization.created", { id }));
      const deleted = event("organization.deleted", { id });
      assert.deepEqual((await run(app, SYNC_ORG, deleted)).result, {
        organizationId: id,
        outcome: "deleted",
      });
      const late = await run(app, SYNC_ORG, event("organization.updated", { id }));
      assert.deepEqual(late.result, { organizationId: id, outcome: "deleted" });
      const org = await readOrg(sql, id);
      assert.equal(org?.deleted_at?.getTime(), deleted.ts);
      assert.equal(org?.name, null);
    });

    await t.step("data that is not an organization fails without retries", async () => {
      const { error } = await run(app, SYNC_ORG, {
        ...event("organization.created"),
        data: { id: 1 },
      });
      assert.equal((error as Error).name, "EventValidationError");
    });
  });
});

Deno.test("sync-organization-membership-from-clerk mirrors memberships", async (t) => {
  await withPostgrest(async (sql, postgrest) => {
    const app = appAt(postgrest);
    const membership = (id: string, org: string, user: string) => ({
      id,
      organization: {
        ...clerkPayload("organizationMembership.created").data.organization as object,
        id: org,
      },
      public_user_data: {
        ...clerkPayload("organizationMembership.created").data.public_user_data as object,
        user_id: user,
      },
    });

    await t.step("created stores the membership, never the member's public data", async () => {
      const [id, org, user] = [newId("orgmem"), newId("org"), newId("user")];
      const { result, error } = await run(
        app,
        SYNC_MEMBERSHIP,
        event("organizationMembership.created", membership(id, org, user)),
      );
      assert.equal(error, undefined);
      assert.deepEqual(result, { membershipId: id, outcome: "inserted" });
      const row = await readMembership(sql, id);
      assert.equal(row?.organization_id, org);
      assert.equal(row?.user_id, user);
      assert.equal(row?.role, "org:admin");
      assert.equal(row?.permissions?.length, 5);
      const [{ text }] = await sql`select row_to_json(m)::text as text
                                     from public.organization_memberships m where id = ${id}`;
      for (const leak of ["example@example.org", "Example", "never stored", "gravatar"]) {
        assert.ok(!text.includes(leak), `${leak} in ${text}`);
      }
      const embedded = await readOrg(sql, org);
      assert.equal(embedded?.name, "Acme Inc", "the embedded organization is applied too");
    });

    await t.step(
      "updated changes the role; deleted ends it; a replay does not revive it",
      async () => {
        const [id, org, user] = [newId("orgmem"), newId("org"), newId("user")];
        const data = membership(id, org, user);
        const created = event("organizationMembership.created", data);
        await run(app, SYNC_MEMBERSHIP, created);
        await run(app, SYNC_MEMBERSHIP, event("organizationMembership.updated", data));
        assert.equal((await readMembership(sql, id))?.role, "org:member");
        const deleted = event("organizationMembership.deleted", data);
        assert.deepEqual((await run(app, SYNC_MEMBERSHIP, deleted)).result, {
          membershipId: id,
          outcome: "deleted",
        });
        assert.equal((await readMembership(sql, id))?.deleted_at?.getTime(), deleted.ts);
        assert.deepEqual((await run(app, SYNC_MEMBERSHIP, created)).result, {
          membershipId: id,
          outcome: "not_live",
        });
        assert.deepEqual(await liveMemberships(sql, org, user), []);
      },
    );

    await t.step("organization.deleted ends the memberships of the organization", async () => {
      const [id, org, user] = [newId("orgmem"), newId("org"), newId("user")];
      await run(
        app,
        SYNC_MEMBERSHIP,
        event("organizationMembership.created", membership(id, org, user)),
      );
      await run(app, SYNC_ORG, event("organization.deleted", { id: org }));
      assert.deepEqual(await liveMemberships(sql, org, user), []);
    });

    await t.step(
      "user.deleted (delete-user-from-clerk) ends every membership of the user",
      async () => {
        const user = newId("user");
        const [a, b] = [newId("orgmem"), newId("orgmem")];
        const [orgA, orgB] = [newId("org"), newId("org")];
        await run(
          app,
          SYNC_MEMBERSHIP,
          event("organizationMembership.created", membership(a, orgA, user)),
        );
        await run(
          app,
          SYNC_MEMBERSHIP,
          event("organizationMembership.created", membership(b, orgB, user)),
        );
        const deleted = event("user.deleted", { id: user });
        await run(app, "delete-user-from-clerk", deleted);
        for (const id of [a, b]) {
          assert.equal((await readMembership(sql, id))?.deleted_at?.getTime(), deleted.ts, id);
        }
        const late = await run(
          app,
          SYNC_MEMBERSHIP,
          event("organizationMembership.updated", membership(a, orgA, user)),
        );
        assert.deepEqual(late.result, { membershipId: a, outcome: "not_live" });
      },
    );

    await t.step("a signed run through /inngest writes the row", async () => {
      const [id, org, user] = [newId("orgmem"), newId("org"), newId("user")];
      const outcome = await driveRun({
        handler: app.handler,
        functionId: SYNC_MEMBERSHIP,
        event: event("organizationMembership.created", membership(id, org, user)),
        signingKey: TEST_SIGNING_KEY,
      });
      assert.deepEqual(outcome.result, { membershipId: id, outcome: "inserted" });
      assert.deepEqual(await liveMemberships(sql, org, user), [id]);
    });
  });
});

Deno.test("the organization workflows run one at a time per organization and per member", async () => {
  // What Inngest is told: the registration the serve route gives a sync.
  const app = createApp(testEnv(), { logger: captureLogs().logger });
  const registered = await readRegistration({ handler: app.handler, signingKey: TEST_SIGNING_KEY });
  const config = (id: string) => {
    const found = registered.get(id);
    assert.ok(found, `${id} is registered`);
    return found;
  };
  assert.deepEqual(config(SYNC_ORG).concurrency, [{ key: "event.data.id", limit: 1 }]);
  assert.deepEqual(config(SYNC_MEMBERSHIP).concurrency, [{
    key: "event.data.public_user_data.user_id",
    limit: 1,
  }]);
  assert.equal(config(SYNC_ORG).retries, 10);
  assert.equal(config(SYNC_MEMBERSHIP).retries, 10);
});
