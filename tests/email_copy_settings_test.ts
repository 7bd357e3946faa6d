import assert from "node:assert/strict";
import { createApp } from "../functions/app.ts";
import { readEnvFile } from "./support/env_file.ts";
import { type Env, parseSettings, SETTING_NAMES } from "../functions/settings.ts";
import { captureLogs, healthDetailsRequest, testEnv } from "./support/env.ts";

function email(overrides: Env) {
  return parseSettings(testEnv(overrides)).email;
}

function copy(overrides: Env) {
  const group = email(overrides);
  if (!group.ok) throw new Error(`Expected valid settings: ${group.problems.join("; ")}`);
  return group.value.copy;
}

function problems(overrides: Env): string[] {
  const group = email(overrides);
  return group.ok ? [] : [...group.problems];
}

Deno.test("the email copy settings are validated with the email group", async (t) => {
  await t.step(".env.example lists exactly the settings /health reports", async () => {
    const example = await readEnvFile(new URL("../.env.example", import.meta.url));
    assert.deepEqual(Object.keys(example).sort(), [...SETTING_NAMES].sort());
    assert.ok(SETTING_NAMES.includes("EMAIL_POSTAL_ADDRESS"));
    assert.ok(SETTING_NAMES.includes("UPGRADE_URL"));
  });

  await t.step("only the postal address is required; the rest have defaults", () => {
    assert.deepEqual(copy({}), {
      postalAddress: ["Acme Inc., 1 Test Street, Testville, TS 00000"],
      supportEmail: "hello@acme.test",
      logoUrl: undefined,
      trialPlanName: "Pro",
      trialDays: 14,
      upgradeUrl: "https://acme.test/upgrade",
    });
    assert.deepEqual(problems({ EMAIL_POSTAL_ADDRESS: undefined }), [
      "EMAIL_POSTAL_ADDRESS is missing: commercial email must carry the sender's postal address",
    ]);
    assert.deepEqual(problems({ EMAIL_POSTAL_ADDRESS: "   " }).length, 1);
  });

  await t.step("a postal address may span lines", () => {
    assert.deepEqual(
      copy({ EMAIL_POSTAL_ADDRESS: "Acme Inc.\n1 Main St\r\n\nSpringfield" })
        .postalAddress,
      ["Acme Inc.", "1 Main St", "Springfield"],
    );
  });

  await t.step("the support address defaults to EMAIL_FROM's address", () => {
    assert.equal(copy({ EMAIL_FROM: "hi@acme.test" }).supportEmail, "hi@acme.test");
    assert.equal(copy({ SUPPORT_EMAIL: "help@acme.test" }).supportEmail, "help@acme.test");
    assert.deepEqual(problems({ EMAIL_FROM: "Acme <odd?address@acme.test>" }), [
      "SUPPORT_EMAIL is missing, and the address in EMAIL_FROM cannot stand in for it: set SUPPORT_EMAIL",
    ]);
  });

  await t.step("UPGRADE_URL: under APP_URL keeping its path, or given whole", () => {
    const cases: [Env, string][] = [
      [{ APP_URL: "https://acme.test/app" }, "https://acme.test/app/upgrade"],
      [{ APP_URL: "https://acme.test/app/" }, "https://acme.test/app/upgrade"],
      [{ APP_URL: "https://acme.test/app?x=1#top" }, "https://acme.test/app/upgrade"],
      [
        { APP_URL: "https://acme.test/app", UPGRADE_URL: "billing?plan=pro" },
        "https://acme.test/app/billing?plan=pro",
      ],
      [{ APP_URL: "https://acme.test/app", UPGRADE_URL: "/pricing" }, "https://acme.test/pricing"],
      [{ UPGRADE_URL: "https://pay.acme.test/checkout" }, "https://pay.acme.test/checkout"],
    ];
    for (const [env, expected] of cases) assert.equal(copy(env).upgradeUrl, expected);
  });

  await t.step("each bad value is named, never echoed", () => {
    const bad = {
      SUPPORT_EMAIL: "not-an-address",
      APP_LOGO_URL: "http://cdn.acme.test/logo.png",
      TRIAL_PLAN_NAME: "<b>Pro</b>",
      TRIAL_DAYS: "fourteen",
      UPGRADE_URL: "javascript:alert(1)",
      EMAIL_POSTAL_ADDRESS: "x".repeat(301),
    };
    const found = problems(bad);
    assert.deepEqual(found.map((p) => p.split(" ")[0]).sort(), Object.keys(bad).sort());
    for (const value of Object.values(bad)) {
      assert.ok(!found.join("\n").includes(value), "a value is not echoed");
    }
    assert.equal(problems({ TRIAL_DAYS: "0" }).length, 1);
    assert.equal(problems({ TRIAL_DAYS: "2.5" }).length, 1);
    assert.equal(problems({ TRIAL_DAYS: "366" }).length, 1);
  });

  await t.step("a bad APP_URL is one problem, not a second one for UPGRADE_URL", () => {
    assert.deepEqual(problems({ APP_URL: "acme.test" }), ["APP_URL must be an http(s) URL"]);
  });

  await t.step("a problem here disables the emails only", async () => {
    const logs = captureLogs();
    const app = createApp(testEnv({ EMAIL_POSTAL_ADDRESS: undefined }), { logger: logs.logger });
    assert.equal(app.settings.webhook.ok, true);
    assert.equal(app.settings.inngest.ok, true);
    assert.equal(app.settings.email.ok, false);
    const res = await app.handler(healthDetailsRequest());
    const body = await res.json();
    assert.equal(body.settings.EMAIL_POSTAL_ADDRESS, "missing");
    assert.ok(body.problems.some((p: string) => p.startsWith("EMAIL_POSTAL_ADDRESS is missing")));
  });
});
