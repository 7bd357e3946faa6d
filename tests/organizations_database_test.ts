/**
 * The rules of public.organizations and public.organization_memberships, on
 * the database itself (through the same rpc() calls the workflows make):
 * newest wins in any order, tombstones stay, cascades, and who reads what
 * under row level security, with v1 and v2 session-token claims.
 */
import assert from "node:assert/strict";
import { asRole } from "./support/database.ts";
import { withPostgrest } from "./support/postgrest.ts";
import { usersStoreAt } from "./support/users.ts";
import {
  liveMemberships,
  membershipRow,
  newId,
  organizationsStoreAt,
  orgRow,
  readMembership,
  readOrg,
} from "./support/organizations.ts";

function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items];
  return items.flatMap((item, i) =>
    permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest])
  );
}

const at = (ms: number) => new Date(1_700_000_000_000 + ms).toISOString();

Deno.test("organizations keep the newest version whatever the delivery order", async (t) => {
  await withPostgrest(async (sql, postgrest) => {
    const store = organizationsStoreAt(postgrest);
    for (const order of permutations([1, 2, 3])) {
      await t.step(`versions applied in order ${order.join(", ")} end at version 3`, async () => {
        const id = newId("org");
        const outcomes = [];
        for (const version of order) {
          outcomes.push(await store.upsertOrganization(orgRow(id, version)));
        }
        const org = await readOrg(sql, id);
        assert.equal(org?.name, "Org v3");
        assert.equal(org?.slug, "org-v3");
        assert.deepEqual(org?.public_metadata, { version: 3 });
        assert.equal(outcomes[0], "inserted");
        assert.ok(outcomes.slice(order.indexOf(3) + 1).every((o) => o === "stale"));
      });
    }
    await t.step("a replay of the same version changes nothing", async () => {
      const id = newId("org");
      await store.upsertOrganization(orgRow(id, 5));
      assert.equal(await store.upsertOrganization(orgRow(id, 5, { name: "Sneaky" })), "stale");
      assert.equal((await readOrg(sql, id))?.name, "Org v5");
    });
  });
});

Deno.test("a deleted organization stays a tombstone and ends its memberships", async (t) => {
  await withPostgrest(async (sql, postgrest) => {
    const store = organizationsStoreAt(postgrest);
    await t.step("deletion erases name, slug, image and metadata, at the event's ts", async () => {
      const id = newId("org");
      await store.upsertOrganization(orgRow(id, 1));
      assert.equal(await store.deleteOrganization(id, at(100)), "deleted");
      const org = await readOrg(sql, id);
      assert.equal(org?.deleted_at?.toISOString(), at(100));
      assert.deepEqual(
        [org?.name, org?.slug, org?.image_url, org?.public_metadata],
        [null, null, null, null],
      );
    });

    await t.step("a late or replayed created/updated does not restore it", async () => {
      const id = newId("org");
      await store.upsertOrganization(orgRow(id, 1));
      await store.deleteOrganization(id, at(10));
      assert.equal(await store.upsertOrganization(orgRow(id, 999)), "deleted");
      assert.equal(await store.upsertOrganization(orgRow(id, 1)), "deleted");
      assert.equal((await readOrg(sql, id))?.name, null);
    });

    await t.step("a deletion of an organization never seen leaves a tombstone", async () => {
      const id = newId("org");
      assert.equal(await store.deleteOrganization(id, at(5)), "deleted");
      assert.equal(await store.upsertOrganization(orgRow(id, 1)), "deleted");
      assert.ok((await readOrg(sql, id))?.deleted_at);
    });

    await t.step("deletions replayed out of order keep the earliest time", async () => {
      const id = newId("org");
      await store.deleteOrganization(id, at(50));
      assert.equal(await store.deleteOrganization(id, at(70)), "already_deleted");
      await store.deleteOrganization(id, at(30));
      assert.equal((await readOrg(sql, id))?.deleted_at?.toISOString(), at(30));
    });

    await t.step("its memberships stop being live, and no late event revives them", async () => {
      const org = newId("org");
      const [alice, bob] = [newId("user"), newId("user")];
      const [m1, m2] = [newId("orgmem"), newId("orgmem")];
      await store.upsertOrganization(orgRow(org, 1));
      await store.upsertMembership(membershipRow(m1, org, alice, 1));
      await store.upsertMembership(membershipRow(m2, org, bob, 1));
      await store.deleteOrganization(org, at(500));
      for (const id of [m1, m2]) {
        assert.equal((await readMembership(sql, id))?.deleted_at?.toISOString(), at(500), id);
      }
      assert.equal(await store.upsertMembership(membershipRow(m1, org, alice, 900)), "not_live");
      const late = newId("orgmem");
      assert.equal(
        await store.upsertMembership(membershipRow(late, org, newId("user"), 1)),
        "deleted",
        "a membership that arrives after its organization's deletion is born not live",
      );
      assert.ok((await readMembership(sql, late))?.deleted_at);
    });
  });
});

Deno.test("memberships keep the newest version and never come back", async (t) => {
  await withPostgrest(async (sql, postgrest) => {
    const store = organizationsStoreAt(postgrest);
    for (const order of permutations([1, 2, 3])) {
      await t.step(`versions in order ${order.join(", ")} end at version 3`, async () => {
        const [org, user, id] = [newId("org"), newId("user"), newId("orgmem")];
        for (const version of order) {
          await store.upsertMembership(membershipRow(id, org, user, version));
        }
        const row = await readMembership(sql, id);
        assert.equal(row?.role, "org:role_v3");
        assert.deepEqual(row?.permissions, ["org:perm:v3"]);
        assert.equal(row?.deleted_at, null);
      });
    }

    await t.step("a membership that arrives before its organization and user is live", async () => {
      const [org, user, id] = [newId("org"), newId("user"), newId("orgmem")];
      assert.equal(await store.upsertMembership(membershipRow(id, org, user, 1)), "inserted");
      await store.upsertOrganization(orgRow(org, 1));
      assert.deepEqual(await liveMemberships(sql, org, user), [id]);
    });

    for (const order of permutations(["created", "updated", "deleted"])) {
      await t.step(
        `created, updated, deleted applied as ${order.join(", ")}: not live`,
        async () => {
          const [org, user, id] = [newId("org"), newId("user"), newId("orgmem")];
          const rows = {
            created: membershipRow(id, org, user, 1),
            updated: membershipRow(id, org, user, 2),
            deleted: membershipRow(id, org, user, 2, { deleted_at: at(10) }),
          };
          for (const kind of order) await store.upsertMembership(rows[kind as keyof typeof rows]);
          assert.ok((await readMembership(sql, id))?.deleted_at, "not live");
          assert.equal(await store.upsertMembership(rows.created), "not_live", "a replay");
          assert.deepEqual(await liveMemberships(sql, org, user), []);
        },
      );
    }

    await t.step("a deleted membership stays not live even for a newer version", async () => {
      const [org, user, id] = [newId("org"), newId("user"), newId("orgmem")];
      await store.upsertMembership(membershipRow(id, org, user, 1));
      await store.upsertMembership(membershipRow(id, org, user, 2, { deleted_at: at(3) }));
      assert.equal(await store.upsertMembership(membershipRow(id, org, user, 50)), "not_live");
      assert.deepEqual(await liveMemberships(sql, org, user), []);
      assert.equal((await readMembership(sql, id))?.deleted_at?.toISOString(), at(3));
    });

    for (const order of permutations(["joined", "left", "rejoined"])) {
      await t.step(`leave and re-join as ${order.join(", ")}: exactly one live`, async () => {
        const [org, user, first, second] = [
          newId("org"),
          newId("user"),
          newId("orgmem"),
          newId("orgmem"),
        ];
        const rows = {
          joined: membershipRow(first, org, user, 1),
          left: membershipRow(first, org, user, 2, { deleted_at: at(3) }),
          rejoined: membershipRow(second, org, user, 1, { created: 100 }),
        };
        for (const step of order) await store.upsertMembership(rows[step as keyof typeof rows]);
        assert.deepEqual(await liveMemberships(sql, org, user), [second]);
      });
    }

    await t.step("a re-join that arrives before the old leave still leaves one live", async () => {
      const [org, user, first, second] = [
        newId("org"),
        newId("user"),
        newId("orgmem"),
        newId("orgmem"),
      ];
      await store.upsertMembership(membershipRow(first, org, user, 1));
      await store.upsertMembership(membershipRow(second, org, user, 1, { created: 100 }));
      assert.deepEqual(await liveMemberships(sql, org, user), [second]);
      // The old membership's update, replayed late, does not bring it back.
      await store.upsertMembership(membershipRow(first, org, user, 50));
      assert.deepEqual(await liveMemberships(sql, org, user), [second]);
    });

    await t.step("a deleted user's memberships stop being live, and stay so", async () => {
      const users = usersStoreAt(postgrest);
      const [org, user, id] = [newId("org"), newId("user"), newId("orgmem")];
      await store.upsertMembership(membershipRow(id, org, user, 1));
      await users.markDeleted(user, at(77));
      assert.equal((await readMembership(sql, id))?.deleted_at?.toISOString(), at(77));
      assert.equal(await store.upsertMembership(membershipRow(id, org, user, 9)), "not_live");
      const late = newId("orgmem");
      assert.equal(
        await store.upsertMembership(membershipRow(late, newId("org"), user, 1)),
        "deleted",
      );
    });
  });
});

/** Claims of a v1 and a v2 session token for `sub`, with `org` active as `role` (`admin`). */
function tokens(sub: string, org?: string, role = "admin") {
  return {
    v1: { sub, ...(org ? { org_id: org, org_role: `org:${role}`, org_slug: "acme" } : {}) },
    v2: { sub, v: 2, ...(org ? { o: { id: org, rol: role, slg: "acme" } } : {}) },
  };
}

Deno.test("members read their live organizations and memberships, nobody else reads anything", async (t) => {
  await withPostgrest(async (sql, postgrest) => {
    const store = organizationsStoreAt(postgrest);
    const [acme, globex, gone] = [newId("org"), newId("org"), newId("org")];
    const [alice, bob, carol] = [newId("user"), newId("user"), newId("user")];
    for (const org of [acme, globex, gone]) await store.upsertOrganization(orgRow(org, 1));
    const ids = {
      aliceAcme: newId("orgmem"),
      bobAcme: newId("orgmem"),
      bobGlobex: newId("orgmem"),
      aliceGone: newId("orgmem"),
      carolLeft: newId("orgmem"),
    };
    await store.upsertMembership(
      membershipRow(ids.aliceAcme, acme, alice, 1, { role: "org:admin" }),
    );
    await store.upsertMembership(membershipRow(ids.bobAcme, acme, bob, 1, { role: "org:member" }));
    await store.upsertMembership(membershipRow(ids.bobGlobex, globex, bob, 1));
    await store.upsertMembership(membershipRow(ids.aliceGone, gone, alice, 1));
    await store.upsertMembership(
      membershipRow(ids.carolLeft, acme, carol, 2, { deleted_at: at(5) }),
    );
    await store.deleteOrganization(gone, at(9));
    const read = (claims: Record<string, unknown>, table: string) =>
      asRole(
        sql,
        "authenticated",
        claims,
        (tx) => tx.unsafe(`select id from public.${table} order by id`),
      ).then((rows) => rows.map((r) => r.id as string));
    const mine = (ids: string[], within: string[]) => ids.filter((id) => within.includes(id));

    for (const version of ["v1", "v2"] as const) {
      await t.step(`${version}: a member reads their live organizations only`, async () => {
        const orgs = await read(tokens(alice, acme)[version], "organizations");
        assert.deepEqual(mine(orgs, [acme, globex, gone]), [acme]);
        const bobs = await read(tokens(bob)[version], "organizations");
        assert.deepEqual(mine(bobs, [acme, globex, gone]).sort(), [acme, globex].sort());
      });
      await t.step(`${version}: and the live memberships of those organizations`, async () => {
        const rows = await read(tokens(alice, acme)[version], "organization_memberships");
        assert.deepEqual(
          mine(rows, Object.values(ids)).sort(),
          [ids.aliceAcme, ids.bobAcme].sort(),
        );
      });
    }

    await t.step("a user who left, or is in no organization, reads nothing", async () => {
      for (const sub of [carol, newId("user")]) {
        assert.deepEqual(mine(await read({ sub }, "organizations"), [acme, globex, gone]), []);
        assert.deepEqual(
          mine(await read({ sub }, "organization_memberships"), Object.values(ids)),
          [],
        );
      }
    });

    await t.step("without a sub, an authenticated role reads nothing", async () => {
      assert.deepEqual(mine(await read({}, "organizations"), [acme, globex, gone]), []);
    });

    await t.step("anon reads nothing at all", async () => {
      for (const table of ["organizations", "organization_memberships"]) {
        await assert.rejects(
          asRole(sql, "anon", {}, (tx) => tx.unsafe(`select id from public.${table}`)),
          /permission denied/,
        );
      }
    });

    await t.step("only the service role writes", async () => {
      for (const role of ["anon", "authenticated"] as const) {
        await assert.rejects(
          asRole(
            sql,
            role,
            { sub: alice },
            (tx) => tx`insert into public.organizations (id) values (${newId("org")})`,
          ),
          /permission denied/,
        );
        await assert.rejects(
          asRole(
            sql,
            role,
            { sub: alice },
            (tx) => tx`update public.organization_memberships set role = 'org:admin'`,
          ),
          /permission denied/,
        );
        await assert.rejects(
          asRole(
            sql,
            role,
            { sub: alice },
            (tx) => tx`select public.upsert_organizations_from_clerk('[]'::jsonb)`,
          ),
          /permission denied/,
        );
      }
    });

    await t.step("the helpers answer with v1 and v2 claims alike", async () => {
      const ask = (role: "anon" | "authenticated", claims: Record<string, unknown>, org: string) =>
        asRole(sql, role, claims, async (tx) => {
          const [row] = await tx`
            select public.is_org_member(${org}) as member, public.org_role(${org}) as role,
                   public.active_org_id() as active_id, public.active_org_role() as active_role`;
          return { ...row };
        });
      for (const version of ["v1", "v2"] as const) {
        assert.deepEqual(await ask("authenticated", tokens(alice, acme)[version], acme), {
          member: true,
          role: "org:admin",
          active_id: acme,
          active_role: "org:admin",
        }, version);
        assert.deepEqual(await ask("authenticated", tokens(bob, globex, "member")[version], acme), {
          member: true,
          role: "org:member",
          active_id: globex,
          active_role: "org:member",
        }, version);
        assert.deepEqual(await ask("authenticated", tokens(alice, gone)[version], gone), {
          member: false,
          role: null,
          active_id: gone,
          active_role: "org:admin",
        }, `${version}: a deleted organization`);
        assert.deepEqual(await ask("authenticated", tokens(carol)[version], acme), {
          member: false,
          role: null,
          active_id: null,
          active_role: null,
        }, `${version}: a member who left, no active organization`);
      }
    });

    await t.step("without a sub the helpers answer false or null, for anon too", async () => {
      for (const role of ["anon", "authenticated"] as const) {
        const [row] = await asRole(
          sql,
          role,
          { org_id: acme, org_role: "org:admin" },
          (tx) =>
            tx`select public.is_org_member(${acme}) as member, public.org_role(${acme}) as role,
                    public.active_org_id() as active_id, public.active_org_role() as active_role`,
        );
        assert.deepEqual({ ...row }, {
          member: false,
          role: null,
          active_id: null,
          active_role: null,
        }, role);
      }
    });
  });
});

/** The first ```sql block of docs/organizations.md. */
async function docsPolicySql(): Promise<string> {
  const page = await Deno.readTextFile(new URL("../docs/organizations.md", import.meta.url));
  const block = /```sql\n([\s\S]*?)```/.exec(page);
  assert.ok(block, "docs/organizations.md has a sql block");
  return block[1];
}

Deno.test("the projects policy of docs/organizations.md does what the page says", async (t) => {
  await withPostgrest(async (sql, postgrest) => {
    const store = organizationsStoreAt(postgrest);
    const [acme, globex] = [newId("org"), newId("org")];
    const [admin, member, outsider] = [newId("user"), newId("user"), newId("user")];
    await store.upsertOrganization(orgRow(acme, 1));
    await store.upsertOrganization(orgRow(globex, 1));
    await store.upsertMembership(
      membershipRow(newId("orgmem"), acme, admin, 1, { role: "org:admin" }),
    );
    await store.upsertMembership(
      membershipRow(newId("orgmem"), globex, admin, 1, { role: "org:member" }),
    );
    await store.upsertMembership(
      membershipRow(newId("orgmem"), acme, member, 1, { role: "org:member" }),
    );

    // The whole check runs in one transaction that is rolled back, so the
    // app's table never outlives the test.
    const rollback = new Error("rollback");
    await sql.begin(async (tx) => {
      await tx.unsafe(await docsPolicySql());
      await tx`insert into public.projects (org_id, name) values
        (${acme}, 'Acme roadmap'), (${globex}, 'Globex launch')`;
      const as = async <T>(claims: Record<string, unknown>, fn: () => Promise<T>) => {
        await tx.unsafe("set local role authenticated");
        await tx`select set_config('request.jwt.claims', ${JSON.stringify(claims)}, true)`;
        try {
          return await fn();
        } finally {
          await tx.unsafe("reset role");
        }
      };
      const names = () =>
        tx`select name from public.projects order by name`.then((r) => r.map((row) => row.name));

      for (const version of ["v1", "v2"] as const) {
        await t.step(
          `${version}: members read the projects of every organization they are in`,
          async () => {
            assert.deepEqual(await as(tokens(admin, acme)[version], names), [
              "Acme roadmap",
              "Globex launch",
            ]);
            assert.deepEqual(await as(tokens(member, acme, "member")[version], names), [
              "Acme roadmap",
            ]);
            assert.deepEqual(await as(tokens(outsider)[version], names), []);
          },
        );

        await t.step(
          `${version}: only an admin creates, and only in the active organization`,
          async () => {
            const create = (claims: Record<string, unknown>, org: string) =>
              as(
                claims,
                () =>
                  tx.savepoint((sp) =>
                    sp`insert into public.projects (org_id, name) values (${org}, 'New')`
                  ),
              )
                .then(() => "created", (e: Error) => e.message);
            assert.equal(await create(tokens(admin, acme)[version], acme), "created");
            assert.match(await create(tokens(admin, acme)[version], globex), /row-level security/);
            assert.match(
              await create(tokens(admin, globex, "member")[version], globex),
              /row-level security/,
            );
            assert.match(
              await create(tokens(member, acme, "member")[version], acme),
              /row-level security/,
            );
            await tx`delete from public.projects where name = 'New'`;
          },
        );
      }

      await t.step("an admin renames, a member cannot", async () => {
        const rename = (sub: string) =>
          as(
            { sub },
            () => tx`update public.projects set name = name || '!' where org_id = ${acme}`,
          )
            .then((r) => r.count);
        assert.equal(await rename(member), 0);
        assert.equal(await rename(admin), 1);
      });

      await t.step("a member who left loses access at once", async () => {
        await tx`update public.organization_memberships set deleted_at = now()
                  where user_id = ${member}`;
        assert.deepEqual(await as(tokens(member, acme, "member").v2, names), []);
      });
      throw rollback;
    }).catch((error) => {
      if (error !== rollback) throw error;
    });
  });
});
