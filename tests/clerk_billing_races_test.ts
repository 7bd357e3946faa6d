/**
 * Two writers meeting on the same billing rows, on a real PostgreSQL: one
 * holds its transaction open while the other's statement waits on its row,
 * then the first commits (or rolls back). The embedded database serves one
 * connection at a time, so these run only with TEST_DATABASE_URL.
 *
 * Where two writers meet: two runs of one item (a retry and a replay, or
 * the item's own event and the subscription event that embeds it), and a
 * reconcile page that holds items a webhook is writing.
 */
import assert from "node:assert/strict";
import type postgres from "postgres";
import { connect, testDatabase } from "./support/database.ts";
import { within } from "./support/bounded.ts";
import { newId } from "./support/organizations.ts";
import { billingTestId, itemRow, readItem } from "./support/clerk_billing.ts";
import type { SubscriptionItemRow } from "../functions/clerk_billing/rows.ts";

const embedded = (await testDatabase()).embedded;

type Reserved = postgres.ReservedSql;

/** Applies `items` on `conn` (inside whatever transaction it has open). */
async function apply(conn: Reserved | postgres.Sql, ...items: SubscriptionItemRow[]) {
  const [{ outcomes }] = await conn`select public.apply_billing_from_clerk(
    '[]'::jsonb, ${conn.json(items as unknown as postgres.JSONValue)}, '[]'::jsonb) as outcomes`;
  return outcomes.items as string[];
}

/** Waits until the backend `pid` waits on a lock: the second writer has met the first. */
async function waitsOnLock(sql: postgres.Sql, pid: number, what: string) {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const [row] = await sql`select wait_event_type from pg_stat_activity where pid = ${pid}`;
    if (row?.wait_event_type === "Lock") return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`Timed out after 10 s waiting for ${what} to wait on a row lock`);
}

/**
 * `first` applies its items in an open transaction; `second` starts
 * applying its own and is left waiting on the row; then `first` commits
 * (or rolls back). Returns the second writer's outcomes.
 */
async function meet(
  sql: postgres.Sql,
  first: SubscriptionItemRow[],
  second: SubscriptionItemRow[],
  end: "commit" | "rollback" = "commit",
) {
  const [a, b] = [await sql.reserve(), await sql.reserve()];
  try {
    await a`begin`;
    await apply(a, ...first);
    const [{ pid }] = await b`select pg_backend_pid() as pid`;
    const waiting = apply(b, ...second);
    waiting.catch(() => {});
    await waitsOnLock(sql, pid, "the second writer");
    await a.unsafe(end);
    return await within(waiting, 10_000, "the second writer to finish after the first ended");
  } finally {
    a.release();
    b.release();
  }
}

Deno.test({
  name: "two writers of one billing item end at the newest version, whoever commits first",
  ignore: embedded,
  async fn(t) {
    const sql = await connect();
    try {
      await t.step("a new item: the newer insert waits, then the older one is stale", async () => {
        const [id, user] = [billingTestId("csub_item"), newId("user")];
        const outcome = await meet(sql, [itemRow(id, user, 2, { status: "past_due" })], [
          itemRow(id, user, 1, { status: "active" }),
        ]);
        assert.deepEqual(outcome, ["stale"]);
        assert.equal((await readItem(sql, id))?.status, "past_due");
      });

      await t.step(
        "a new item: the older insert waits, then the newer one updates it",
        async () => {
          const [id, user] = [billingTestId("csub_item"), newId("user")];
          const outcome = await meet(sql, [itemRow(id, user, 1, { status: "active" })], [
            itemRow(id, user, 2, { status: "past_due" }),
          ]);
          assert.deepEqual(outcome, ["updated"]);
          assert.equal((await readItem(sql, id))?.status, "past_due");
        },
      );

      await t.step(
        "an existing item: an older update waiting on a newer one is stale",
        async () => {
          const [id, user] = [billingTestId("csub_item"), newId("user")];
          await apply(sql, itemRow(id, user, 1));
          const outcome = await meet(sql, [itemRow(id, user, 3, { status: "canceled" })], [
            itemRow(id, user, 2, { status: "past_due" }),
          ]);
          assert.deepEqual(outcome, ["stale"]);
          assert.equal((await readItem(sql, id))?.status, "canceled");
        },
      );

      await t.step("one version from two events at once merges as it would in turn", async () => {
        const [id, user] = [billingTestId("csub_item"), newId("user")];
        const embedded = itemRow(id, user, 5, { status: "canceled", plan_period: null });
        const own = itemRow(id, user, 5, {
          status: "canceled",
          canceled_at: new Date(1_700_000_000_000).toISOString(),
        });
        await meet(sql, [embedded], [own]);
        const [other, user2] = [billingTestId("csub_item"), user];
        await apply(sql, { ...own, id: other, payer_user_id: user2 });
        await apply(sql, { ...embedded, id: other, payer_user_id: user2 });
        const { id: _a, updated_at: _b, ...raced } = (await readItem(sql, id))!;
        const { id: _c, updated_at: _d, ...sequential } = (await readItem(sql, other))!;
        assert.deepEqual(raced, sequential);
      });

      await t.step(
        "a writer that rolls back leaves nothing for the waiting one to lose",
        async () => {
          const [id, user] = [billingTestId("csub_item"), newId("user")];
          const outcome = await meet(
            sql,
            [itemRow(id, user, 9)],
            [itemRow(id, user, 1)],
            "rollback",
          );
          assert.deepEqual(outcome, ["inserted"]);
          assert.equal((await readItem(sql, id))?.clerk_updated_at.getTime(), 1_700_000_000_001);
        },
      );
    } finally {
      await sql.end();
    }
  },
});

Deno.test({
  name: "batches that share items lock them in one order, so two of them never deadlock",
  ignore: embedded,
  async fn() {
    const sql = await connect();
    const [a, b] = [await sql.reserve(), await sql.reserve()];
    try {
      const user = newId("user");
      // Ids chosen so that the second batch lists them in the other order.
      const [x, y] = [`csub_item_a${crypto.randomUUID()}`, `csub_item_b${crypto.randomUUID()}`];
      await a`begin`;
      await apply(a, itemRow(x, user, 1));
      const [{ pid }] = await b`select pg_backend_pid() as pid`;
      // A reconcile page holding both, newest first: y before x.
      const page = apply(b, itemRow(y, user, 2), itemRow(x, user, 2));
      page.catch(() => {});
      await waitsOnLock(sql, pid, "the page");
      // The first writer now needs y: had the page locked y before waiting
      // on x, this would be a deadlock and one of them would fail.
      assert.deepEqual(
        await within(apply(a, itemRow(y, user, 1)), 10_000, "the first writer to write y"),
        ["inserted"],
      );
      await a`commit`;
      assert.deepEqual(await within(page, 10_000, "the page to finish"), ["updated", "updated"]);
    } finally {
      a.release();
      b.release();
      await sql.end();
    }
  },
});
