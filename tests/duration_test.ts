import assert from "node:assert/strict";
import { DURATION, durationMs } from "../functions/util/duration.ts";
import { parseSettings } from "../functions/settings.ts";

Deno.test("durations read the way Inngest, the settings and the email copy read them", async (t) => {
  await t.step("each unit, and units combined", () => {
    assert.equal(durationMs("500ms"), 500);
    assert.equal(durationMs("45s"), 45_000);
    assert.equal(durationMs("30m"), 30 * 60_000);
    assert.equal(durationMs("12h"), 12 * 3_600_000);
    assert.equal(durationMs("3d"), 3 * 86_400_000);
    assert.equal(durationMs("2w"), 14 * 86_400_000);
    assert.equal(durationMs("1d12h"), 36 * 3_600_000);
  });

  await t.step("a number is already milliseconds", () => {
    assert.equal(durationMs(1_500), 1_500);
  });

  await t.step("anything the settings refuse is refused here too, with a RangeError", () => {
    for (const bad of ["", "3", "d", "3 d", "1.5h", "3days", "-3d"]) {
      assert.equal(DURATION.test(bad), false, bad);
      assert.throws(() => durationMs(bad), RangeError, bad);
      const settings = parseSettings({ ONBOARDING_TRIAL_OFFER_DELAY: bad.trim() ? bad : "x" });
      assert.ok(
        !settings.email.ok &&
          settings.email.problems.some((p) => p.startsWith("ONBOARDING_TRIAL_OFFER_DELAY")),
        `settings accepted "${bad}"`,
      );
    }
  });

  await t.step("the Clerk request budget's period is such a duration", () => {
    const budget = (value: string) => {
      const group =
        parseSettings({ CLERK_SECRET_KEY: "sk_test_x", CLERK_API_REQUEST_BUDGET: value })
          .clerkApi;
      return group.ok ? group.value.requestBudget : undefined;
    };
    assert.deepEqual(budget("50/10s"), { limit: 50, periodMs: 10_000 });
    assert.deepEqual(budget("3/1100ms"), { limit: 3, periodMs: 1_100 });
    assert.deepEqual(budget("5/1m30s"), { limit: 5, periodMs: 90_000 });
    for (const bad of ["50/10", "50/1.5s", "50/2h", "0/10s", "lots"]) {
      assert.equal(budget(bad), undefined, bad);
    }
  });
});
