/**
 * POST /clerk-events/users/me/sync also syncs the caller's organization
 * memberships, and their organizations, for the app that just created or
 * joined one and reads Postgres before the webhook lands.
 */
import assert from "node:assert/strict";
import { appAt } from "./support/app.ts";
import { within } from "./support/bounded.ts";
import {
  type ClerkApi,
  clerkMembership,
  clerkOrganization,
  clerkUser,
  startClerkApi,
} from "./support/clerk_api.ts";
import { captureLogs } from "./support/env.ts";
import { withPostgrest } from "./support/postgrest.ts";
import { createTestInstance, mintSessionToken } from "./support/session_tokens.ts";
import { liveMemberships, readMembership, readOrg } from "./support/organizations.ts";

const acme = await createTestInstance("acme");

function membershipRequests(clerk: ClerkApi) {
  return clerk.accepted().filter((r) => r.path.endsWith("/organization_memberships"));
}

Deno.test("/users/me/sync answers the caller's memberships and mirrors them", async (t) => {
  await withPostgrest(async (sql, postgrest) => {
    const clerk = startClerkApi();
    clerk.jwks = { keys: [acme.jwk] };
    const logs = captureLogs();
    const app = appAt(postgrest, { CLERK_API_URL: clerk.url, CLERK_JWT_KEY: acme.publicKeyPem }, {
      logger: logs.logger,
    });
    const sync = async (claims: Record<string, unknown>) => {
      const token = await mintSessionToken(acme, { sub: user.id as string, claims });
      const res = await app.handler(
        new Request("http://localhost/clerk-events/users/me/sync", {
          method: "POST",
          headers: { authorization: `Bearer ${token}` },
        }),
      );
      assert.equal(res.status, 200, await res.clone().text());
      return await res.json();
    };
    const user = clerkUser();
    clerk.putUser(user);
    const [first, second] = [clerkOrganization({ name: "First" }), clerkOrganization()];
    clerk.putOrganization(first);
    const firstMembership = clerkMembership({
      organization: first,
      userId: user.id,
      role: "org:admin",
    });
    clerk.putMembership(firstMembership);
    try {
      await t.step("the first call reads the memberships from Clerk and stores them", async () => {
        const body = await sync({});
        assert.deepEqual(body.memberships, [{ organization_id: first.id, role: "org:admin" }]);
        assert.equal(membershipRequests(clerk).length, 1);
        assert.equal((await readOrg(sql, first.id))?.name, "First", "and their organizations");
        const [{ text }] = await sql`select row_to_json(m)::text as text
          from public.organization_memberships m where id = ${firstMembership.id}`;
        assert.ok(!text.includes("never stored") && !text.includes("Lovelace"), text);
      });

      await t.step("a reload with the same active organization asks Clerk nothing", async () => {
        const body = await sync({ o: { id: first.id, rol: "admin" } });
        assert.equal(body.source, "database");
        assert.deepEqual(body.memberships, [{ organization_id: first.id, role: "org:admin" }]);
        assert.equal(membershipRequests(clerk).length, 1);
      });

      await t.step("a new active organization (v2 o.id) is read from Clerk at once", async () => {
        clerk.putOrganization(second);
        clerk.putMembership(clerkMembership({ organization: second, userId: user.id }));
        const body = await sync({ o: { id: second.id, rol: "member" } });
        assert.deepEqual(
          body.memberships,
          [
            { organization_id: first.id, role: "org:admin" },
            { organization_id: second.id, role: "org:member" },
          ].sort((a, b) => a.organization_id < b.organization_id ? -1 : 1),
        );
        assert.equal(membershipRequests(clerk).length, 2);
      });

      await t.step("a v1 org_id works the same, and a membership Clerk dropped ends", async () => {
        clerk.deleteMembership(firstMembership.id);
        const third = clerkOrganization();
        clerk.putOrganization(third);
        clerk.putMembership(clerkMembership({ organization: third, userId: user.id }));
        const body = await sync({ org_id: third.id, org_role: "org:member", v: 1 });
        assert.deepEqual(
          body.memberships.map((m: { organization_id: string }) => m.organization_id).sort(),
          [second.id, third.id].sort(),
        );
        assert.ok((await readMembership(sql, firstMembership.id))?.deleted_at, "the user left");
        assert.deepEqual(await liveMemberships(sql, first.id, user.id as string), []);
      });
    } finally {
      await clerk.close();
    }
  });
});

Deno.test("/users/me/sync reads the memberships alongside the user, not after it", async () => {
  await withPostgrest(async (_sql, postgrest) => {
    const clerk = startClerkApi();
    clerk.jwks = { keys: [acme.jwk] };
    const user = clerkUser();
    clerk.putUser(user);
    let membershipsAsked!: () => void;
    const membershipsRequested = new Promise<void>((resolve) => membershipsAsked = resolve);
    // Clerk's answer for the user is held until the memberships request has
    // arrived: a sync that asks for them only after the user never gets it.
    const holding: typeof fetch = async (input, init) => {
      const path = new URL(input instanceof Request ? input.url : String(input)).pathname;
      if (path.endsWith("/organization_memberships")) membershipsAsked();
      else if (path === `/v1/users/${user.id}`) {
        await within(
          membershipsRequested,
          5_000,
          "the memberships request, while the user's is held",
        );
      }
      return fetch(input, init);
    };
    const app = appAt(postgrest, { CLERK_API_URL: clerk.url, CLERK_JWT_KEY: acme.publicKeyPem }, {
      fetch: holding,
    });
    try {
      const token = await mintSessionToken(acme, { sub: user.id as string });
      const res = await app.handler(
        new Request("http://localhost/clerk-events/users/me/sync", {
          method: "POST",
          headers: { authorization: `Bearer ${token}` },
        }),
      );
      assert.equal(res.status, 200, await res.clone().text());
      assert.deepEqual((await res.json()).memberships, []);
      assert.equal(membershipRequests(clerk).length, 1);
    } finally {
      await clerk.close();
    }
  });
});
