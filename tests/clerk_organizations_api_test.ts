/**
 * The organizations client of Clerk's Backend API against the stand-in,
 * which answers like Clerk: `{data, total_count}` pages, `limit` 1 to 500,
 * 404 `resource_not_found` once deleted, 429 with `Retry-After`.
 */
import assert from "node:assert/strict";
import { ClerkRateLimitError, createClerkGet } from "../functions/clerk/backend_api.ts";
import { createClerkOrganizationsApi } from "../functions/clerk/organizations_api.ts";
import {
  clerkMembership,
  clerkOrganization,
  startClerkApi,
  TEST_CLERK_SECRET_KEY,
} from "./support/clerk_api.ts";

Deno.test("the organizations client reads Clerk's lists and lookups", async (t) => {
  const api = startClerkApi({ rateLimit: undefined });
  api.rateLimit = undefined;
  const clerk = createClerkOrganizationsApi(
    createClerkGet({ apiUrl: api.url, secretKey: TEST_CLERK_SECRET_KEY }),
  );
  try {
    const orgs = Array.from({ length: 5 }, (_, i) => clerkOrganization({ createdAt: 1_000 + i }));
    for (const org of orgs) api.putOrganization(org);
    const [alice, bob] = ["user_alice", "user_bob"];
    const memberships = [
      clerkMembership({ organization: orgs[0], userId: alice, role: "org:admin" }),
      clerkMembership({ organization: orgs[0], userId: bob }),
      clerkMembership({ organization: orgs[1], userId: alice }),
    ];
    for (const m of memberships) api.putMembership(m);

    await t.step("organizations come in {data, total_count} pages, oldest first", async () => {
      const page = await clerk.listOrganizations({ limit: 2, offset: 2 });
      assert.equal(page.totalCount, 5);
      assert.deepEqual(page.data.map((o) => o.id), [orgs[2].id, orgs[3].id]);
      assert.equal(
        (page.data[0] as Record<string, unknown>).private_metadata,
        undefined,
        "private metadata is dropped when the page is read",
      );
      assert.deepEqual(api.requests.at(-1)?.query, {
        limit: "2",
        offset: "2",
        order_by: "+created_at",
      });
    });

    await t.step("a deleted organization is null, and takes its memberships", async () => {
      assert.equal((await clerk.getOrganization(orgs[1].id))?.name, orgs[1].name);
      api.deleteOrganization(orgs[1].id);
      assert.equal(await clerk.getOrganization(orgs[1].id), null);
      assert.equal(
        await clerk.listOrganizationMemberships(orgs[1].id, { limit: 10, offset: 0 }),
        null,
      );
      assert.equal(api.requests.at(-1)?.status, 404);
    });

    await t.step("memberships: all, per organization filtered by user, per user", async () => {
      const all = await clerk.listAllMemberships({ limit: 500, offset: 0 });
      assert.equal(all.totalCount, 2);
      const filtered = await clerk.listOrganizationMemberships(orgs[0].id, {
        limit: 50,
        offset: 0,
        userIds: [bob, "user_nobody"],
      });
      assert.deepEqual(filtered?.data.map((m) => m.public_user_data.user_id), [bob]);
      const request = api.requests.at(-1)!;
      assert.equal(request.path, `/v1/organizations/${orgs[0].id}/memberships`);
      const mine = await clerk.listUserMemberships(alice, { limit: 10, offset: 0 });
      assert.deepEqual(mine.data.map((m) => m.organization.id), [orgs[0].id]);
      assert.equal(mine.data[0].role, "org:admin");
      assert.equal(
        (mine.data[0].public_user_data as Record<string, unknown>).identifier,
        undefined,
        "the member's public user data is dropped but for user_id",
      );
    });

    await t.step("a limit outside 1 to 500 is refused before any request", async () => {
      const before = api.requests.length;
      await assert.rejects(clerk.listOrganizations({ limit: 501, offset: 0 }), RangeError);
      assert.equal(api.requests.length, before);
      const res = await fetch(`${api.url}/v1/organizations?limit=0`, {
        headers: { authorization: `Bearer ${TEST_CLERK_SECRET_KEY}` },
      });
      assert.equal(res.status, 422, "and the stand-in refuses it as Clerk does");
      await res.body?.cancel();
    });

    await t.step("a 429 carries Clerk's Retry-After", async () => {
      api.rateLimit = { limit: 0, windowMs: 7_000 };
      const error = await clerk.listAllMemberships({ limit: 10, offset: 0 }).catch((e) => e);
      assert.ok(error instanceof ClerkRateLimitError);
      assert.ok(error.retryAfterSeconds >= 1 && error.retryAfterSeconds <= 7);
      api.rateLimit = undefined;
    });

    await t.step("every request is counted, refused ones too", () => {
      assert.ok(api.requests.some((r) => r.status === 429));
      assert.ok(api.requests.length > api.accepted().length);
    });
  } finally {
    await api.close();
  }
});
