import assert from "node:assert/strict";
import { DURATION, durationMs } from "../functions/duration.ts";
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
});
