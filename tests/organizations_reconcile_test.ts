/**
 * reconcile-users-with-clerk repairs organizations and memberships from
 * Clerk's Backend API ({data, total_count} pages), tombstoning only what
 * Clerk confirms is gone, through the same request budget.
 */
import assert from "node:assert/strict";
import type postgres from "postgres";
import type { App } from "../functions/app.ts";
import { RECONCILE_FUNCTION_ID } from "../functions/reconcile/reconcile_function.ts";
import { appAt } from "./support/app.ts";
import {
  type ClerkApi,
  clerkMembership,
  type ClerkMembershipObject,
  clerkOrganization,
  type ClerkOrganizationObject,
  startClerkApi,
} from "./support/clerk_api.ts";
import { TEST_SIGNING_KEY } from "./support/env.ts";
import { type EventApi, startEventApi } from "./support/event_api.ts";
import { type DriveOptions, driveRun } from "./support/inngest_cloud.ts";
import { type Postgrest, withPostgrest } from "./support/postgrest.ts";
import { type ResendApi, startResendApi } from "./support/resend_api.ts";
import {
  liveMemberships,
  membershipRow,
  newId,
  organizationsStoreAt,
  orgRow,
  readMembership,
  readOrg,
} from "./support/organizations.ts";

const PAGE_SIZE = 20;

interface Counts {
  listed: number;
  inserted: number;
  updated: number;
  unchanged: number;
  tombstoned: number;
}

interface RunResult {
  runId: string;
  status: string;
  dryRun: boolean;
  organizations: Counts;
  memberships: Counts;
}

interface Harness {
  sql: postgres.Sql;
  postgrest: Postgrest;
  clerk: ClerkApi;
  events: EventApi;
  resend: ResendApi;
  app: App;
}

async function withHarness(fn: (h: Harness) => Promise<void>) {
  await withPostgrest(async (sql, postgrest) => {
    // Each test starts from empty tables: Clerk must know every row, or a
    // reconcile would rightly tombstone it.
    await sql`truncate public.organizations, public.organization_memberships`;
    const clerk = startClerkApi({ rateLimit: undefined });
    clerk.rateLimit = undefined;
    const events = startEventApi();
    const resend = startResendApi();
    try {
      const app = appAt(postgrest, {
        CLERK_API_URL: clerk.url,
        CLERK_API_REQUEST_BUDGET: "1000/1s",
        INNGEST_EVENT_API_BASE_URL: events.url,
        RESEND_BASE_URL: resend.url,
      }, { reconcile: { pageSize: PAGE_SIZE, confirmBatchSize: 3 } });
      await fn({ sql, postgrest, clerk, events, resend, app });
    } finally {
      await Promise.all([clerk.close(), events.close(), resend.close()]);
    }
  });
}

function reconcile(
  app: App,
  data: Record<string, unknown> = {},
  options: Partial<DriveOptions> = {},
) {
  return driveRun({
    handler: app.handler,
    functionId: RECONCILE_FUNCTION_ID,
    event: {
      id: crypto.randomUUID(),
      name: "clerk-events/reconcile.requested",
      data,
      ts: Date.now(),
    },
    signingKey: TEST_SIGNING_KEY,
    maxRequests: 2_000,
    ...options,
  }).then((outcome) => outcome.result as RunResult);
}

/** `orgs` organizations with `perOrg` members each, created oldest first. */
function seed(clerk: ClerkApi, orgs: number, perOrg: number, base = 1_600_000_000_000) {
  const organizations: ClerkOrganizationObject[] = [];
  const memberships: ClerkMembershipObject[] = [];
  for (let i = 0; i < orgs; i++) {
    const org = clerkOrganization({ createdAt: base + i * 100 });
    clerk.putOrganization(org);
    organizations.push(org);
    for (let j = 0; j < perOrg; j++) {
      const membership = clerkMembership({
        organization: org,
        userId: newId("user"),
        role: j === 0 ? "org:admin" : "org:member",
        createdAt: base + i * 100 + j + 1,
      });
      clerk.putMembership(membership);
      memberships.push(membership);
    }
  }
  return { organizations, memberships };
}

const requests = (clerk: ClerkApi, path: string | RegExp) =>
  clerk.accepted().filter((r) => typeof path === "string" ? r.path === path : path.test(r.path));

Deno.test("reconcile fills organizations and memberships from Clerk, then changes nothing", async (t) => {
  await withHarness(async (h) => {
    const { organizations, memberships } = seed(h.clerk, 45, 2);
    let first: RunResult;

    await t.step("every organization and membership is inserted", async () => {
      first = await reconcile(h.app);
      assert.equal(first.status, "succeeded");
      assert.deepEqual(first.organizations, {
        listed: 45,
        inserted: 45,
        updated: 0,
        unchanged: 0,
        tombstoned: 0,
      });
      assert.deepEqual(first.memberships, {
        listed: 90,
        inserted: 90,
        updated: 0,
        unchanged: 0,
        tombstoned: 0,
      });
      const org = await readOrg(h.sql, organizations[7].id);
      assert.equal(org?.name, organizations[7].name);
      assert.deepEqual(org?.public_metadata, { plan: "team" }, "public metadata, never private");
      const row = await readMembership(h.sql, memberships[0].id);
      assert.equal(row?.role, "org:admin");
      assert.equal(row?.user_id, memberships[0].public_user_data.user_id);
    });

    await t.step("the counts are recorded in public.clerk_sync_runs", async () => {
      const [run] = await h.sql`select * from public.clerk_sync_runs where id = ${first.runId}`;
      assert.equal(run.organizations_listed, 45);
      assert.equal(run.organizations_inserted, 45);
      assert.equal(run.memberships_listed, 90);
      assert.equal(run.memberships_inserted, 90);
      const [{ count }] = await h.sql`
        select (select count(*) from public.clerk_sync_org_seen)::int
             + (select count(*) from public.clerk_sync_org_absent)::int as count`;
      assert.equal(count, 0, "the run's ids are dropped");
    });

    await t.step("pages are {data, total_count}, read oldest first, each once", () => {
      const orgPages = requests(h.clerk, "/v1/organizations");
      assert.deepEqual(
        orgPages.map((r) => r.query),
        [0, 20, 40].map((offset) => ({
          limit: "20",
          offset: String(offset),
          order_by: "+created_at",
        })),
      );
      const membershipPages = requests(h.clerk, "/v1/organization_memberships");
      assert.deepEqual(membershipPages.map((r) => Number(r.query.offset)), [0, 20, 40, 60, 80]);
      assert.equal(requests(h.clerk, /^\/v1\/organizations\/./).length, 0, "nothing to confirm");
    });

    await t.step("a second run changes nothing", async () => {
      const second = await reconcile(h.app);
      assert.deepEqual(second.organizations, {
        listed: 45,
        inserted: 0,
        updated: 0,
        unchanged: 45,
        tombstoned: 0,
      });
      assert.deepEqual(second.memberships, {
        listed: 90,
        inserted: 0,
        updated: 0,
        unchanged: 90,
        tombstoned: 0,
      });
    });

    await t.step("no event was emitted and no email sent", () => {
      assert.deepEqual(h.events.accepted, []);
      assert.equal(h.resend.requests, 0);
    });
  });
});

Deno.test("reconcile repairs stale organizations and memberships, and keeps newer ones", async () => {
  await withHarness(async (h) => {
    const store = organizationsStoreAt(h.postgrest);
    const { organizations, memberships } = seed(h.clerk, 2, 1);
    const [stale, newer] = organizations;
    await store.upsertOrganization({
      ...orgRow(stale.id, 0),
      name: "Old name",
      clerk_updated_at: new Date(stale.updated_at - 1000).toISOString(),
    });
    await store.upsertOrganization({
      ...orgRow(newer.id, 0),
      name: "Newer name",
      clerk_updated_at: new Date(newer.updated_at + 1000).toISOString(),
    });
    const [m] = memberships;
    await store.upsertMembership({
      ...membershipRow(m.id, m.organization.id, m.public_user_data.user_id, 0),
      role: "org:member",
      clerk_created_at: new Date(m.created_at).toISOString(),
      clerk_updated_at: new Date(m.updated_at - 1000).toISOString(),
    });
    const result = await reconcile(h.app);
    assert.equal((await readOrg(h.sql, stale.id))?.name, stale.name);
    assert.equal((await readOrg(h.sql, newer.id))?.name, "Newer name");
    assert.equal((await readMembership(h.sql, m.id))?.role, "org:admin");
    assert.equal(result.organizations.updated, 1);
    assert.equal(result.memberships.updated, 1);
  });
});

Deno.test("reconcile tombstones only what Clerk confirms is gone", async (t) => {
  await withHarness(async (h) => {
    const { organizations, memberships } = seed(h.clerk, 2 * PAGE_SIZE + 5, 1);
    await reconcile(h.app);

    const deletedOrg = organizations[organizations.length - 1];
    const deletedOrgMember = memberships.find((m) => m.organization.id === deletedOrg.id)!;
    const left = memberships[3];
    const rejoinedOld = memberships[4];
    h.clerk.deleteOrganization(deletedOrg.id);
    h.clerk.deleteMembership(left.id);
    // Leaves and joins again: a new membership id.
    h.clerk.deleteMembership(rejoinedOld.id);
    const rejoined = clerkMembership({
      organization: rejoinedOld.organization,
      userId: rejoinedOld.public_user_data.user_id,
      createdAt: 1_700_000_000_000,
    });
    h.clerk.putMembership(rejoined);
    // Deleted in Clerk while the second page is read: every later one moves
    // up one place, so the first of the old second page is never listed.
    const skippedOrg = organizations[PAGE_SIZE];
    const lateDeleted = organizations[0];
    h.clerk.onRequest = (request) => {
      if (request.path === "/v1/organizations" && request.query.offset === String(PAGE_SIZE)) {
        h.clerk.deleteOrganization(lateDeleted.id);
      }
    };
    const result = await reconcile(h.app);
    h.clerk.onRequest = () => {};

    await t.step(
      "an organization Clerk answers 404 for is tombstoned with its memberships",
      async () => {
        const org = await readOrg(h.sql, deletedOrg.id);
        assert.ok(org?.deleted_at);
        assert.equal(org?.name, null);
        assert.equal(requests(h.clerk, `/v1/organizations/${deletedOrg.id}`).length, 1);
        assert.ok((await readMembership(h.sql, deletedOrgMember.id))?.deleted_at);
      },
    );

    await t.step(
      "an organization missed by the listing is kept, because Clerk still has it",
      async () => {
        assert.equal(requests(h.clerk, `/v1/organizations/${skippedOrg.id}`).length, 1);
        assert.equal((await readOrg(h.sql, skippedOrg.id))?.deleted_at, null);
      },
    );

    await t.step("a membership the per-organization check omits stops being live", async () => {
      const checks = requests(h.clerk, `/v1/organizations/${left.organization.id}/memberships`);
      assert.equal(checks.length, 1);
      assert.equal(checks[0].query.user_id, left.public_user_data.user_id);
      assert.ok((await readMembership(h.sql, left.id))?.deleted_at);
    });

    await t.step("leaving and re-joining leaves exactly the new membership live", async () => {
      assert.deepEqual(
        await liveMemberships(h.sql, rejoined.organization.id, rejoined.public_user_data.user_id),
        [rejoined.id],
      );
    });

    await t.step(
      "an organization deleted after it was listed is tombstoned once its members' check answers 404",
      async () => {
        const checks = requests(h.clerk, `/v1/organizations/${lateDeleted.id}/memberships`);
        assert.equal(checks.length, 1);
        assert.equal(checks[0].status, 404);
        assert.ok((await readOrg(h.sql, lateDeleted.id))?.deleted_at);
        assert.equal(result.organizations.tombstoned, 2);
      },
    );

    await t.step("memberships of other organizations are untouched", async () => {
      const [{ n }] = await h.sql`select count(*)::int as n from public.organization_memberships
                                   where deleted_at is null`;
      // 45 seeded; not live: the two deleted organizations', the one who
      // left and the re-joined user's old one; live: the re-joined one.
      assert.equal(n, 45 - 4 + 1);
      // Counted as tombstoned by the membership check: the one who left and
      // the late-deleted organization's member. The others ended with their
      // organization's tombstone, or when the re-join was listed.
      assert.equal(result.memberships.tombstoned, 2);
    });

    await t.step("a next run finds nothing more to tombstone", async () => {
      const next = await reconcile(h.app);
      assert.equal(next.organizations.tombstoned, 0);
      assert.equal(next.memberships.tombstoned, 0);
    });

    await t.step("no event was emitted and no email sent", () => {
      assert.deepEqual(h.events.accepted, []);
      assert.equal(h.resend.requests, 0);
    });
  });
});

Deno.test("a dry run counts organization changes without writing", async () => {
  await withHarness(async (h) => {
    const { organizations } = seed(h.clerk, 3, 1);
    await reconcile(h.app);
    h.clerk.deleteOrganization(organizations[0].id);
    h.clerk.updateOrganization(organizations[1].id, { name: "Renamed" });
    const fresh = clerkOrganization();
    h.clerk.putOrganization(fresh);
    const result = await reconcile(h.app, { dryRun: true });
    assert.equal(result.dryRun, true);
    assert.deepEqual(
      [
        result.organizations.inserted,
        result.organizations.updated,
        result.organizations.tombstoned,
      ],
      [1, 1, 1],
    );
    assert.equal(await readOrg(h.sql, fresh.id), undefined);
    assert.equal((await readOrg(h.sql, organizations[1].id))?.name, organizations[1].name);
    assert.equal((await readOrg(h.sql, organizations[0].id))?.deleted_at, null);
  });
});

Deno.test("organization pages past Clerk's rate limit wait Retry-After and skip nothing", async () => {
  await withHarness(async (h) => {
    seed(h.clerk, 10, 1);
    h.clerk.rateLimit = { limit: 2, windowMs: 1_000 };
    const result = await reconcile(h.app, {}, { maxAttempts: 30, retryDelayMs: () => 1_000 });
    assert.ok(h.clerk.requests.some((r) => r.status === 429), "the limit was hit");
    assert.equal(result.status, "succeeded");
    assert.equal(result.organizations.inserted, 10);
    assert.equal(result.memberships.inserted, 10);
  });
});
