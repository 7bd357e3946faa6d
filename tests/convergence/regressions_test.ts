/**
 * The bugs the convergence simulation found (`bugs.ts`), each replayed from
 * its shrunk history: a fixed bug's history converges, and an open one's
 * still diverges as it did, so that the entry keeps reproducing it until
 * the fix lands (then `fixed: true` turns it into a regression test).
 */
import assert from "node:assert/strict";
import { connect } from "../support/database.ts";
import { BUGS } from "./bugs.ts";
import { describeHistory } from "./history.ts";
import { check } from "./property.ts";
import { membershipRace } from "./races.ts";
import { startBase } from "./world.ts";

Deno.test("histories the simulation shrank: every fixed bug stays fixed", async (t) => {
  const sql = await connect();
  const base = await startBase(sql);
  try {
    for (const bug of BUGS) {
      await t.step(`${bug.id}: ${bug.title}${bug.fixed ? "" : " (open: reproduces)"}`, async () => {
        const verdict = await check(base, bug.history, `bug${bug.id}`);
        const report = () =>
          `${describeHistory(bug.history)}\nwhat happened:\n${verdict.trace.join("\n")}\n` +
          `divergences:\n${verdict.divergences.join("\n")}`;
        if (bug.fixed) {
          // Its own divergence is gone; any other is an open bug's (listed
          // with its own entry) or a new one, which the exploration finds.
          const open = BUGS.filter((b) => !b.fixed && b.history === bug.history);
          const left = verdict.divergences.filter((line) =>
            !open.some((b) => b.divergence.test(line))
          );
          assert.deepEqual(left, [], report());
        } else {
          assert.ok(
            verdict.divergences.some((line) => bug.divergence.test(line)),
            `bug ${bug.id} no longer reproduces: mark it fixed if a fix landed\n${report()}`,
          );
        }
      });
    }
  } finally {
    await base.postgrest.close();
    await sql.end();
  }
});

Deno.test({
  name: "f: concurrent writers of one (organization, user) leave at most one membership live",
  // SQL races need concurrent connections: the embedded PGlite serves one.
  ignore: !Deno.env.get("TEST_DATABASE_URL"),
  fn: async () => {
    const sql = await connect();
    const base = await startBase(sql);
    try {
      const found: string[] = [];
      for (let round = 1; round <= 20; round++) found.push(...await membershipRace(base, round));
      assert.deepEqual(found, []);
    } finally {
      await base.postgrest.close();
      await sql.end();
    }
  },
});
