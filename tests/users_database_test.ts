import assert from "node:assert/strict";
import type postgres from "postgres";
import { newUserId } from "./support/clerk.ts";
import { asRole } from "./support/database.ts";
import { withPostgrest } from "./support/postgrest.ts";
import { readUser, userRow, usersStoreAt } from "./support/users.ts";

function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items];
  return items.flatMap((item, i) =>
    permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest])
  );
}

Deno.test("users table keeps the newest version whatever the delivery order", async (t) => {
  await withPostgrest(async (sql, postgrest) => {
    const store = usersStoreAt(postgrest);
    for (const order of permutations([1, 2, 3])) {
      await t.step(`versions applied in order ${order.join(", ")} end at version 3`, async () => {
        const id = newUserId();
        const outcomes = [];
        for (const version of order) outcomes.push(await store.upsert(userRow(id, version)));
        const user = await readUser(sql, id);
        assert.equal(user?.email, "v3@example.com");
        assert.equal(user?.first_name, "First 3");
        assert.equal(user?.clerk_updated_at?.getTime(), 1_700_000_000_003);
        assert.equal(outcomes[0], "inserted");
        // Every version after the newest one arrived was reported as stale.
        const newestAt = order.indexOf(3);
        assert.ok(outcomes.slice(newestAt + 1).every((o) => o === "stale"));
      });
    }

    await t.step("a repeat of the same version changes nothing", async () => {
      const id = newUserId();
      await store.upsert(userRow(id, 5));
      assert.equal(await store.upsert(userRow(id, 5, { first_name: "Sneaky" })), "stale");
      assert.equal((await readUser(sql, id))?.first_name, "First 5");
    });

    await t.step("a newer version with cleared fields clears them", async () => {
      const id = newUserId();
      await store.upsert(userRow(id, 1));
      await store.upsert(userRow(id, 2, { username: null, email: null }));
      const user = await readUser(sql, id);
      assert.equal(user?.username, null);
      assert.equal(user?.email, null);
    });
  });
});

Deno.test("deleted users stay tombstones", async (t) => {
  await withPostgrest(async (sql, postgrest) => {
    const store = usersStoreAt(postgrest);
    await t.step("a delete erases personal data and keeps the row", async () => {
      const id = newUserId();
      await store.upsert(userRow(id, 1));
      assert.equal(await store.markDeleted(id, "2026-01-01T00:00:00Z"), "deleted");
      const user = await readUser(sql, id);
      assert.ok(user, "the row is kept");
      assert.equal(user.deleted_at?.toISOString(), "2026-01-01T00:00:00.000Z");
      assert.deepEqual(
        [user.email, user.first_name, user.last_name, user.username, user.image_url],
        [null, null, null, null, null],
      );
    });

    await t.step("a late update after the delete does not bring the user back", async () => {
      const id = newUserId();
      await store.upsert(userRow(id, 1));
      await store.markDeleted(id, "2026-01-01T00:00:00Z");
      assert.equal(await store.upsert(userRow(id, 99)), "deleted");
      const user = await readUser(sql, id);
      assert.equal(user?.email, null);
      assert.notEqual(user?.deleted_at, null);
    });

    await t.step("a delete of a user never seen leaves a tombstone", async () => {
      const id = newUserId();
      assert.equal(await store.markDeleted(id, "2026-01-01T00:00:00Z"), "deleted");
      assert.equal(await store.upsert(userRow(id, 1)), "deleted");
      const user = await readUser(sql, id);
      assert.notEqual(user?.deleted_at, null);
      assert.equal(user?.email, null);
    });

    await t.step("a repeated delete keeps the first deletion time", async () => {
      const id = newUserId();
      await store.markDeleted(id, "2026-01-01T00:00:00Z");
      assert.equal(await store.markDeleted(id, "2026-02-01T00:00:00Z"), "already_deleted");
      assert.equal(
        (await readUser(sql, id))?.deleted_at?.toISOString(),
        "2026-01-01T00:00:00.000Z",
      );
    });
  });
});

Deno.test("row level security limits who reads and writes users", async (t) => {
  await withPostgrest(async (sql, postgrest) => {
    const alice = newUserId();
    const bob = newUserId();
    const users = usersStoreAt(postgrest);
    await users.upsert(userRow(alice, 1));
    await users.upsert(userRow(bob, 1));

    await t.step("anon reads nothing", async () => {
      await assert.rejects(
        asRole(sql, "anon", {}, (tx) => tx`select id from public.users`),
        /permission denied/,
      );
    });

    await t.step("an authenticated user reads only their own row", async () => {
      const rows = await asRole(
        sql,
        "authenticated",
        { sub: alice },
        (tx) => tx`select id from public.users where id in (${alice}, ${bob})`,
      );
      assert.deepEqual(rows.map((r) => r.id), [alice]);
    });

    await t.step("an authenticated user without a sub reads nothing", async () => {
      const rows = await asRole(
        sql,
        "authenticated",
        {},
        (tx) => tx`select id from public.users where id in (${alice}, ${bob})`,
      );
      assert.equal(rows.length, 0);
    });

    await t.step("an authenticated user cannot update even their own row", async () => {
      await assert.rejects(
        asRole(
          sql,
          "authenticated",
          { sub: alice },
          (tx) => tx`update public.users set first_name = 'x' where id = ${alice}`,
        ),
        /permission denied/,
      );
    });

    for (const role of ["anon", "authenticated"] as const) {
      await t.step(`${role} cannot execute the write functions`, async () => {
        await assert.rejects(
          asRole(
            sql,
            role,
            { sub: alice },
            (tx) => tx`select public.delete_user_from_clerk(${alice})`,
          ),
          /permission denied for function/,
        );
        await assert.rejects(
          asRole(
            sql,
            role,
            { sub: alice },
            (tx) =>
              tx`select public.upsert_user_from_clerk(${alice}, null, null, null, null, null, now(), now())`,
          ),
          /permission denied for function/,
        );
      });
    }

    await t.step("the service role can execute them", async () => {
      const [row] = await asRole(
        sql,
        "service_role",
        {},
        (tx) => tx`select public.delete_user_from_clerk(${newUserId()}) as outcome`,
      );
      assert.equal(row.outcome, "deleted");
    });
  });
});

Deno.test("the page upsert of the reconcile keeps the rules of the single-user upsert", async (t) => {
  await withPostgrest(async (sql) => {
    // Each case applies versions in order (0 means user.deleted), once through
    // each SQL function on its own id; both must report the same outcomes and
    // end with the same row.
    const cases: Record<string, number[]> = {
      "a new user": [1],
      "a newer version": [1, 2],
      "an older version": [2, 1],
      "the same version again": [2, 2],
      "a version after a delete": [1, 0, 3],
    };
    for (const [name, versions] of Object.entries(cases)) {
      await t.step(name, async () => {
        await asRole(sql, "service_role", {}, async (tx) => {
          const single = newUserId();
          const page = newUserId();
          for (const version of versions) {
            if (version === 0) {
              for (const id of [single, page]) {
                await tx`select public.delete_user_from_clerk(${id}, now())`;
              }
              continue;
            }
            const a = userRow(single, version);
            const [{ outcome: one }] = await tx<{ outcome: string }[]>`
              select public.upsert_user_from_clerk(${a.id}, ${a.email}, ${a.first_name},
                ${a.last_name}, ${a.username}, ${a.image_url}, ${a.clerk_created_at},
                ${a.clerk_updated_at}) as outcome`;
            const written = await tx<{ outcome: string }[]>`
              select outcome from public.upsert_users_from_clerk(
                ${tx.json([userRow(page, version)] as unknown as postgres.JSONValue)})`;
            const many = written[0]?.outcome ?? "not written";
            const expected = one === "inserted" || one === "updated" ? one : "not written";
            assert.equal(many, expected, `version ${version}: single gave ${one}`);
          }
          const rows = await tx`
            select id, email, first_name, last_name, username, image_url, clerk_created_at,
                   clerk_updated_at, deleted_at is not null as deleted
              from public.users where id in (${single}, ${page}) order by id = ${single}`;
          assert.equal(rows.length, 2);
          const [b, a] = rows.map(({ id: _id, ...rest }) => rest);
          assert.deepEqual(b, a);
        });
      });
    }
  });
});
