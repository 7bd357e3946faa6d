/**
 * Row level security the way Supabase recommends it
 * (supabase/migrations/20261206130000_private_helpers.sql):
 * no SECURITY DEFINER function in a schema the API exposes, the functions
 * that read past row level security in `clerk_events` (not exposed), and
 * policies that ask for the caller's organizations once per query, not once
 * per row.
 */
import assert from "node:assert/strict";
import { asRole } from "./support/database.ts";
import { withPostgrest } from "./support/postgrest.ts";
import { membershipRow, newId, organizationsStoreAt, orgRow } from "./support/organizations.ts";

/** The schemas PostgREST serves, from `[api] schemas` in supabase/config.toml. */
async function exposedSchemas(): Promise<string[]> {
  const config = await Deno.readTextFile(new URL("../supabase/config.toml", import.meta.url));
  const api = config.split(/^\[/m).find((section) => section.startsWith("api]"));
  const line = api?.match(/^schemas\s*=\s*\[(.*)\]/m);
  assert.ok(line, "supabase/config.toml has no [api] schemas line");
  return [...line[1].matchAll(/"([^"]+)"/g)].map((m) => m[1]);
}

Deno.test("no function in a schema the API exposes runs as its owner", async () => {
  const exposed = await exposedSchemas();
  assert.ok(!exposed.includes("clerk_events"), "clerk_events must not be an exposed schema");
  await withPostgrest(async (sql) => {
    const definers = await sql<{ fn: string }[]>`
      select p.oid::regprocedure::text as fn
        from pg_proc p join pg_namespace n on n.oid = p.pronamespace
       where p.prosecdef and n.nspname = any(${exposed})
       order by 1`;
    assert.deepEqual(
      definers.map((d) => d.fn),
      [],
      "SECURITY DEFINER functions in an exposed schema (PostgREST would let callers run them " +
        "as their owner): move the part that must read past RLS to clerk_events",
    );
    const privateOnes = await sql<{ fn: string; definer: boolean }[]>`
      select p.proname as fn, p.prosecdef as definer
        from pg_proc p where p.pronamespace = 'clerk_events'::regnamespace order by 1`;
    assert.deepEqual(privateOnes.map((row) => ({ ...row })), [
      { fn: "member_organization_ids", definer: true },
      { fn: "org_role", definer: true },
      { fn: "payer_has_plan", definer: true },
    ]);
  });
});

Deno.test("the policies ask for the caller's organizations once per query", async (t) => {
  await withPostgrest(async (sql, postgrest) => {
    const store = organizationsStoreAt(postgrest);
    const user = newId("user");
    const mine = newId("org");
    await store.upsertOrganization(orgRow(mine, 1));
    await store.upsertMembership(membershipRow(newId("orgmem"), mine, user, 1));
    for (let i = 0; i < 50; i++) {
      const org = newId("org");
      await store.upsertOrganization(orgRow(org, 1));
      await store.upsertMembership(membershipRow(newId("orgmem"), org, newId("user"), 1));
    }
    for (
      const table of [
        "organizations",
        "organization_memberships",
        "billing_subscription_items",
      ]
    ) {
      await t.step(table, async () => {
        const plan = await asRole(sql, "authenticated", { sub: user }, async (tx) => {
          const rows = await tx.unsafe(
            `explain (verbose, costs off) select * from public.${table}`,
          ) as unknown as { "QUERY PLAN": string }[];
          return rows.map((row) => row["QUERY PLAN"]).join("\n");
        });
        const calls = plan.match(/clerk_events\.member_organization_ids\(\)/g) ?? [];
        assert.equal(calls.length, 1, `one call for the caller's organizations:\n${plan}`);
        // A hashed subplan runs once per query; a plain SubPlan would run per row.
        assert.match(plan, /\(hashed SubPlan \d+\)/, `evaluated once, not per row:\n${plan}`);
        assert.doesNotMatch(plan, /is_org_member\(/, `no helper call per row:\n${plan}`);
      });
    }
    await t.step("and still read exactly the caller's organization", async () => {
      const seen = await asRole(
        sql,
        "authenticated",
        { sub: user },
        (tx) => tx<{ id: string }[]>`select id from public.organizations`,
      );
      assert.deepEqual(seen.map((row) => row.id), [mine]);
    });
  });
});

Deno.test("the public helpers answer as before, as the caller", async () => {
  await withPostgrest(async (sql, postgrest) => {
    const store = organizationsStoreAt(postgrest);
    const user = newId("user");
    const org = newId("org");
    const early = newId("org");
    await store.upsertOrganization(orgRow(org, 1));
    await store.upsertMembership(
      membershipRow(newId("orgmem"), org, user, 1, { role: "org:admin" }),
    );
    // A membership that arrived before its organization's row counts.
    await store.upsertMembership(membershipRow(newId("orgmem"), early, user, 1));
    const answers = await asRole(
      sql,
      "authenticated",
      { sub: user },
      (tx) =>
        tx<{ member: boolean; early: boolean; other: boolean; role: string | null }[]>`
        select public.is_org_member(${org}) as member, public.is_org_member(${early}) as early,
               public.is_org_member(${newId("org")}) as other, public.org_role(${org}) as role`,
    );
    assert.deepEqual(answers[0], { member: true, early: true, other: false, role: "org:admin" });
    const anonymous = await asRole(
      sql,
      "anon",
      {},
      (tx) =>
        tx<{ member: boolean; plan: boolean }[]>`
        select public.is_org_member(${org}) as member, public.has_plan('pro') as plan`,
    );
    assert.deepEqual(anonymous[0], { member: false, plan: false });
  });
});
