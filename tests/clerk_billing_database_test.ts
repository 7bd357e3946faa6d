/**
 * The rules of the Clerk Billing tables, on the database itself, through the
 * same rpc() call the workflows make: newest wins in any order, equal
 * versions merge the same way in any order, exactly one payer, what
 * has_plan counts, who reads what under row level security (v1 and v2
 * session tokens), and the policy example of docs/clerk-billing.md, run
 * as it is written there.
 */
import assert from "node:assert/strict";
import { DatabaseError } from "../functions/database/rpc.ts";
import { asRole } from "./support/database.ts";
import { withPostgrest } from "./support/postgrest.ts";
import { membershipRow, newId, organizationsStoreAt, orgRow } from "./support/organizations.ts";
import {
  billingStoreAt,
  billingTestId,
  hasPlan,
  itemRow,
  itemsBatch,
  payerHasPlan,
  readItem,
  sessionClaims,
  type StoredItem,
  subscriptionsBatch,
} from "./support/clerk_billing.ts";

function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items];
  return items.flatMap((item, i) =>
    permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest])
  );
}

const DAY = 24 * 60 * 60 * 1000;
const iso = (ms: number) => new Date(ms).toISOString();

Deno.test("billing rows keep the newest Clerk version whatever the delivery order", async (t) => {
  await withPostgrest(async (sql, postgrest) => {
    const store = billingStoreAt(postgrest);
    const statuses = { 1: "active", 2: "past_due", 3: "canceled" } as Record<number, string>;
    for (const order of permutations([1, 2, 3])) {
      await t.step(
        `item versions applied in order ${order.join(", ")} end at version 3`,
        async () => {
          const [id, user] = [billingTestId("csub_item"), newId("user")];
          const outcomes = [];
          for (const v of order) {
            const outcome = await store.apply(itemsBatch(itemRow(id, user, v, {
              status: statuses[v],
              canceled_at: v === 3 ? iso(1_700_000_000_003) : null,
            })));
            outcomes.push(outcome.items[0]);
          }
          const row = await readItem(sql, id);
          assert.equal(row?.status, "canceled");
          assert.equal(row?.canceled_at?.getTime(), 1_700_000_000_003);
          assert.equal(outcomes[0], "inserted");
          assert.ok(
            outcomes.slice(order.indexOf(3) + 1).every((o) => o === "stale"),
            `${outcomes}`,
          );
        },
      );
    }

    await t.step("a newer version replaces the whole row, nulls included", async () => {
      const [id, user] = [billingTestId("csub_item"), newId("user")];
      await store.apply(itemsBatch(itemRow(id, user, 1, {
        status: "canceled",
        canceled_at: iso(Date.now()),
      })));
      await store.apply(itemsBatch(itemRow(id, user, 2, { status: "active", canceled_at: null })));
      const row = await readItem(sql, id);
      assert.equal(row?.status, "active");
      assert.equal(row?.canceled_at, null, "a re-activated plan is no longer canceled");
    });

    await t.step("subscriptions and payment attempts follow the same rule", async () => {
      for (const order of permutations([1, 2, 3])) {
        const [id, user] = [billingTestId("csub"), newId("user")];
        for (const v of order) {
          await store.apply(subscriptionsBatch({
            id,
            payer_user_id: user,
            payer_organization_id: null,
            status: v === 2 ? "past_due" : "active",
            active_at: iso(1_700_000_000_000),
            past_due_at: v === 2 ? iso(1_700_000_000_002) : null,
            clerk_updated_at: iso(1_700_000_000_000 + v),
          }));
        }
        const [row] = await sql`select status, past_due_at from public.billing_subscriptions
                                 where id = ${id}`;
        assert.deepEqual([row.status, row.past_due_at], ["active", null], `order ${order}`);

        const attempt = billingTestId("pa");
        for (const v of order) {
          await store.apply({
            subscriptions: [],
            items: [],
            paymentAttempts: [{
              id: attempt,
              payer_user_id: null,
              payer_organization_id: newId("org"),
              status: ["pending", "failed", "paid"][v - 1],
              charge_type: "recurring",
              amount: 2200,
              currency: "USD",
              failed_reason: v === 2
                ? { code: "card_declined", decline_code: "expired_card" }
                : null,
              clerk_updated_at: iso(1_700_000_000_000 + v),
            }],
          });
        }
        const [paid] = await sql`select status, failed_reason from public.billing_payment_attempts
                                  where id = ${attempt}`;
        assert.deepEqual([paid.status, paid.failed_reason], ["paid", null], `order ${order}`);
      }
    });
  });
});

Deno.test("two deliveries of one version merge the same way in either order", async (t) => {
  await withPostgrest(async (sql, postgrest) => {
    const store = billingStoreAt(postgrest);
    const user = newId("user");
    const canceledAt = iso(Date.now() - DAY);
    // A subscription event embeds the item without canceled_at and with
    // `interval` unread; the item's own event carries everything.
    const sparse = (id: string) =>
      itemRow(id, user, 7, { status: "canceled", canceled_at: null, plan_period: null });
    const full = (id: string) =>
      itemRow(id, user, 7, { status: "canceled", canceled_at: canceledAt });

    const rows: Omit<StoredItem, "id" | "updated_at">[] = [];
    for (const order of [["sparse", "full"], ["full", "sparse"]]) {
      const id = billingTestId("csub_item");
      for (const which of order) {
        await store.apply(itemsBatch(which === "sparse" ? sparse(id) : full(id)));
      }
      const { id: _, updated_at: __, ...row } = (await readItem(sql, id))!;
      rows.push(row);
    }
    await t.step("the same row either way, with every field either carried", () => {
      assert.deepEqual(rows[0], rows[1]);
      assert.equal(rows[0].plan_period, "month");
      assert.equal(new Date(rows[0].canceled_at!).toISOString(), canceledAt);
    });

    await t.step(
      "a replay is stale and leaves the row untouched, updated_at included",
      async () => {
        const id = billingTestId("csub_item");
        await store.apply(itemsBatch(full(id)));
        const before = await readItem(sql, id);
        const replay = await store.apply(itemsBatch(full(id)));
        assert.deepEqual(replay.items, ["stale"]);
        assert.deepEqual(await readItem(sql, id), before);
      },
    );
  });
});

Deno.test("exactly one payer column is set, and an empty id is no id", async (t) => {
  await withPostgrest(async (sql, postgrest) => {
    const store = billingStoreAt(postgrest);
    const cases: [string, Partial<ReturnType<typeof itemRow>>][] = [
      ["both set", { payer_user_id: newId("user"), payer_organization_id: newId("org") }],
      ["neither set", { payer_user_id: null, payer_organization_id: null }],
      ["the user's id empty", { payer_user_id: "", payer_organization_id: null }],
    ];
    for (const [name, payer] of cases) {
      await t.step(`${name}: refused for good (a constraint, SQLSTATE 23514)`, async () => {
        const id = billingTestId("csub_item");
        const error = await store.apply(itemsBatch(itemRow(id, newId("user"), 1, payer))).then(
          () => undefined,
          (e) => e,
        );
        assert.ok(error instanceof DatabaseError, String(error));
        assert.equal(error.code, "23514");
        assert.equal(error.permanent, true, "a retry cannot help: no retry storm");
        assert.match(error.message, /one_payer/);
        assert.equal(await readItem(sql, id), undefined);
      });
    }
    await t.step("an organization payer sets only payer_organization_id", async () => {
      const [id, org] = [billingTestId("csub_item"), newId("org")];
      await store.apply(itemsBatch(itemRow(id, org, 1)));
      const row = await readItem(sql, id);
      assert.deepEqual([row?.payer_user_id, row?.payer_organization_id], [null, org]);
    });
    await t.step("a row without a version is refused for good (SQLSTATE 23502)", async () => {
      const id = billingTestId("csub_item");
      const row = { ...itemRow(id, newId("user"), 1), clerk_updated_at: null as unknown as string };
      const error = await store.apply(itemsBatch(row)).then(() => undefined, (e) => e);
      assert.ok(error instanceof DatabaseError, String(error));
      assert.equal(error.code, "23502");
      assert.match(error.message, /clerk_updated_at/);
      assert.equal(await readItem(sql, id), undefined);
    });
    await t.step("a status in camelCase is refused: the rows store snake_case", async () => {
      const error = await store.apply(
        itemsBatch(itemRow(billingTestId("csub_item"), newId("user"), 1, { status: "pastDue" })),
      ).then(() => undefined, (e) => e);
      assert.match(String(error), /status_snake_case/);
    });
  });
});

Deno.test("has_plan counts active items, and canceled ones until their period ends", async (t) => {
  await withPostgrest(async (sql, postgrest) => {
    const store = billingStoreAt(postgrest);
    const now = Date.now();
    const ends = { past: iso(now - DAY), future: iso(now + DAY), none: null } as const;
    const counts: Record<string, Partial<Record<keyof typeof ends, boolean>>> = {
      active: { past: false, future: true, none: true },
      canceled: { past: false, future: true, none: false },
      past_due: {},
      ended: {},
      expired: {},
      abandoned: {},
      incomplete: {},
      upcoming: {},
    };
    for (const [status, expected] of Object.entries(counts)) {
      for (const end of Object.keys(ends) as (keyof typeof ends)[]) {
        const want = expected[end] ?? false;
        await t.step(`${status}, period end ${end}: ${want}`, async () => {
          const user = newId("user");
          await store.apply(itemsBatch(itemRow(billingTestId("csub_item"), user, 1, {
            status,
            period_end: ends[end],
          })));
          assert.equal(await payerHasPlan(sql, user, "pro"), want);
          for (const [version, claims] of Object.entries(sessionClaims(user))) {
            assert.equal(await hasPlan(sql, claims, "pro"), want, version);
          }
          assert.equal(await hasPlan(sql, sessionClaims(user).v1, "team"), false, "another plan");
        });
      }
    }
  });
});

Deno.test("has_plan asks the token's active organization, or else the user", async (t) => {
  await withPostgrest(async (sql, postgrest) => {
    const store = billingStoreAt(postgrest);
    const [alice, acme, globex] = [newId("user"), newId("org"), newId("org")];
    await store.apply(itemsBatch(
      itemRow(billingTestId("csub_item"), alice, 1, { plan_slug: "personal" }),
      itemRow(billingTestId("csub_item"), acme, 1, { plan_slug: "pro" }),
    ));
    for (const version of ["v1", "v2"] as const) {
      await t.step(`${version}: with Acme active, Acme's plan, not Alice's`, async () => {
        const claims = sessionClaims(alice, acme)[version];
        assert.equal(await hasPlan(sql, claims, "pro"), true);
        assert.equal(await hasPlan(sql, claims, "personal"), false);
      });
      await t.step(`${version}: with Globex active (no plan), nothing`, async () => {
        const claims = sessionClaims(alice, globex)[version];
        assert.equal(await hasPlan(sql, claims, "pro"), false);
        assert.equal(await hasPlan(sql, claims, "personal"), false);
      });
      await t.step(`${version}: with no active organization, Alice's own`, async () => {
        const claims = sessionClaims(alice)[version];
        assert.equal(await hasPlan(sql, claims, "personal"), true);
        assert.equal(await hasPlan(sql, claims, "pro"), false);
      });
    }
    await t.step("without a sub: false, for anon and authenticated alike", async () => {
      assert.equal(await hasPlan(sql, {}, "pro", "anon"), false);
      assert.equal(await hasPlan(sql, { org_id: acme }, "pro", "anon"), false);
      assert.equal(await hasPlan(sql, {}, "pro"), false);
    });
    await t.step("payer_has_plan answers for a given user or organization", async () => {
      assert.equal(await payerHasPlan(sql, acme, "pro"), true);
      assert.equal(await payerHasPlan(sql, alice, "personal"), true);
      assert.equal(await payerHasPlan(sql, globex, "pro"), false);
      assert.equal(
        await asRole(sql, "anon", {}, async (tx) => {
          const [{ answer }] = await tx`select public.payer_has_plan(${acme}, 'pro') as answer`;
          return answer;
        }),
        true,
        "executable by anon, for policies written to public",
      );
    });
  });
});

Deno.test("payers read their own billing rows, members their organization's, nobody else", async (t) => {
  await withPostgrest(async (sql, postgrest) => {
    const store = billingStoreAt(postgrest);
    const orgs = organizationsStoreAt(postgrest);
    const [alice, bob, carol] = [newId("user"), newId("user"), newId("user")];
    const [acme, gone] = [newId("org"), newId("org")];
    await orgs.upsertOrganization(orgRow(acme, 1));
    await orgs.upsertOrganization(orgRow(gone, 1));
    await orgs.upsertMembership(membershipRow(newId("orgmem"), acme, alice, 1));
    await orgs.upsertMembership(membershipRow(newId("orgmem"), gone, alice, 1));
    await orgs.upsertMembership(
      membershipRow(newId("orgmem"), acme, carol, 2, { deleted_at: iso(1_700_000_000_001) }),
    );
    await orgs.deleteOrganization(gone, iso(1_700_000_000_009));
    const items = {
      alice: billingTestId("csub_item"),
      bob: billingTestId("csub_item"),
      acme: billingTestId("csub_item"),
      gone: billingTestId("csub_item"),
    };
    await store.apply({
      subscriptions: [{
        id: billingTestId("csub"),
        payer_user_id: null,
        payer_organization_id: acme,
        status: "active",
        active_at: null,
        past_due_at: null,
        clerk_updated_at: iso(1_700_000_000_000),
      }],
      items: [
        itemRow(items.alice, alice, 1),
        itemRow(items.bob, bob, 1),
        itemRow(items.acme, acme, 1),
        itemRow(items.gone, gone, 1),
      ],
      paymentAttempts: [{
        id: billingTestId("pa"),
        payer_user_id: null,
        payer_organization_id: acme,
        status: "paid",
        charge_type: "checkout",
        amount: 4900,
        currency: "USD",
        failed_reason: null,
        clerk_updated_at: iso(1_700_000_000_000),
      }],
    });
    const read = (claims: Record<string, unknown>, table: string) =>
      asRole(
        sql,
        "authenticated",
        claims,
        (tx) => tx.unsafe(`select id from public.${table}`),
      ).then((rows) => rows.map((r) => r.id as string));
    const mine = (ids: string[]) => Object.values(items).filter((id) => ids.includes(id)).sort();

    for (const version of ["v1", "v2"] as const) {
      await t.step(`${version}: Alice reads hers and her live organization's`, async () => {
        for (const claims of [sessionClaims(alice)[version], sessionClaims(alice, acme)[version]]) {
          assert.deepEqual(
            mine(await read(claims, "billing_subscription_items")),
            [items.alice, items.acme].sort(),
          );
          assert.equal((await read(claims, "billing_subscriptions")).length, 1);
          assert.equal((await read(claims, "billing_payment_attempts")).length, 1);
        }
      });
      await t.step(`${version}: Bob reads his own only; Carol, who left, nothing`, async () => {
        assert.deepEqual(
          mine(await read(sessionClaims(bob)[version], "billing_subscription_items")),
          [
            items.bob,
          ],
        );
        const carols = sessionClaims(carol, acme)[version];
        assert.deepEqual(mine(await read(carols, "billing_subscription_items")), []);
        assert.deepEqual(await read(carols, "billing_payment_attempts"), []);
      });
    }

    await t.step(
      "a deleted organization keeps its rows, and its members no longer read them",
      async () => {
        assert.ok(await readItem(sql, items.gone), "the financial record stays");
        assert.ok(
          !(await read(sessionClaims(alice).v1, "billing_subscription_items")).includes(items.gone),
        );
      },
    );

    await t.step("without a sub nothing; anon not even the tables", async () => {
      assert.deepEqual(mine(await read({}, "billing_subscription_items")), []);
      for (
        const table of [
          "billing_subscriptions",
          "billing_subscription_items",
          "billing_payment_attempts",
        ]
      ) {
        await assert.rejects(
          asRole(sql, "anon", {}, (tx) => tx.unsafe(`select id from public.${table}`)),
          /permission denied/,
        );
      }
    });

    await t.step("only the service role writes, directly or through the functions", async () => {
      for (const role of ["anon", "authenticated"] as const) {
        await assert.rejects(
          asRole(
            sql,
            role,
            { sub: alice },
            (tx) => tx`update public.billing_subscription_items set status = 'active'`,
          ),
          /permission denied/,
        );
        await assert.rejects(
          asRole(
            sql,
            role,
            { sub: alice },
            (tx) => tx`select public.apply_billing_from_clerk('[]', '[]', '[]')`,
          ),
          /permission denied/,
        );
      }
    });
  });
});

Deno.test("the policy example of docs/clerk-billing.md works as written", async (t) => {
  const docs = await Deno.readTextFile(new URL("../docs/clerk-billing.md", import.meta.url));
  const example = /<!-- policy-example -->\s*```sql\n([\s\S]*?)```/.exec(docs)?.[1];
  assert.ok(example, "docs/clerk-billing.md has the policy example after <!-- policy-example -->");
  await withPostgrest(async (sql, postgrest) => {
    const store = billingStoreAt(postgrest);
    const orgs = organizationsStoreAt(postgrest);
    const [alice, bob, eve] = [newId("user"), newId("user"), newId("user")];
    const [pro, free] = [newId("org"), newId("org")];
    await orgs.upsertMembership(membershipRow(newId("orgmem"), pro, alice, 1));
    await orgs.upsertMembership(membershipRow(newId("orgmem"), free, bob, 1));
    await store.apply(itemsBatch(
      itemRow(billingTestId("csub_item"), pro, 1, { plan_slug: "pro" }),
      itemRow(billingTestId("csub_item"), free, 1, { plan_slug: "free_org", period_end: null }),
    ));
    const rollback = new Error("rollback");
    await sql.begin(async (tx) => {
      await tx.unsafe(example);
      const create = async (sub: string, org: string, name: string) => {
        try {
          await tx.savepoint(async (sp) => {
            await sp.unsafe("set local role authenticated");
            await sp`select set_config('request.jwt.claims', ${
              JSON.stringify({ sub, org_id: org })
            }, true)`;
            await sp`insert into public.projects (org_id, name) values (${org}, ${name})`;
          });
          return "created";
        } catch (error) {
          assert.match(String(error), /row-level security/);
          return "refused";
        }
      };
      await t.step("an organization on pro creates a fourth project and more", async () => {
        const made = [];
        for (let n = 1; n <= 5; n++) made.push(await create(alice, pro, `p${n}`));
        assert.deepEqual(made, ["created", "created", "created", "created", "created"]);
      });
      await t.step("another one creates three, and the fourth is refused", async () => {
        const made = [];
        for (let n = 1; n <= 4; n++) made.push(await create(bob, free, `p${n}`));
        assert.deepEqual(made, ["created", "created", "created", "refused"]);
      });
      await t.step("a user who is not a member creates none, on pro or not", async () => {
        assert.equal(await create(eve, pro, "intruder"), "refused");
      });
      throw rollback;
    }).catch((error) => {
      if (error !== rollback) throw error;
    });
  });
});
