import assert from "node:assert/strict";
import { createApp } from "../functions/app.ts";
import {
  clerkPayload,
  newMessageId,
  newUserId,
  OTHER_SECRET,
  signedRequest,
} from "./support/clerk.ts";
import { connect } from "./support/database.ts";
import {
  assertSafeLogLine,
  captureLogs,
  scanLogText,
  takeLogViolations,
  TEST_SIGNING_KEY,
  testEnv,
} from "./support/env.ts";
import { startEventApi } from "./support/event_api.ts";
import { driveRun } from "./support/inngest_cloud.ts";
import { startPostgrest } from "./support/postgrest.ts";
import { startResendApi } from "./support/resend_api.ts";

Deno.test("logs of the main paths carry ids, never secrets or email addresses", async () => {
  const sql = await connect();
  const postgrest = startPostgrest(sql);
  const resend = startResendApi();
  const events = startEventApi();
  const logs = captureLogs();
  const env = testEnv({
    SUPABASE_URL: postgrest.url,
    SUPABASE_SERVICE_ROLE_KEY: postgrest.serviceKey,
    RESEND_BASE_URL: resend.url,
    INNGEST_EVENT_API_BASE_URL: events.url,
  });
  const app = createApp(env, { logger: logs.logger });
  try {
    // Webhooks: accepted, bad signature, not a Clerk event, Inngest down.
    const id = newUserId();
    const payload = clerkPayload("user.created", { id });
    assert.equal((await app.handler(signedRequest(payload))).status, 200);
    assert.equal((await app.handler(signedRequest(payload, { secret: OTHER_SECRET }))).status, 401);
    assert.equal((await app.handler(signedRequest('{"email":"leak@example.com"}'))).status, 400);
    events.fault = () => "error500";
    assert.equal((await app.handler(signedRequest(payload))).status, 502);

    // Workflows: a sync, a full onboarding, and a rejected address.
    const event = { id: newMessageId(), name: "clerk/user.created", data: payload.data, ts: 1 };
    const drive = (functionId: string, e = event) =>
      driveRun({ handler: app.handler, functionId, event: e, signingKey: TEST_SIGNING_KEY });
    await drive("sync-user-from-clerk");
    await drive("onboarding-emails");
    const other = newUserId();
    resend.fault = () => ({ status: 422 });
    await assert.rejects(
      drive("onboarding-emails", { ...event, data: { ...payload.data, id: other } }),
    );

    const records = logs.records();
    assert.ok(records.some((r) => r.msg === "Webhook forwarded" && r.user_id === id));
    assert.ok(records.some((r) => r.msg === "Email sent" && r.user_id === id));
    assert.ok(records.some((r) => r.msg === "Email failed permanently" && r.user_id === other));
    // The rejected address came back in Resend's error and was masked.
    assert.ok(logs.lines.some((line) => line.includes("[email]")), "masking was exercised");
    // captureLogs scanned every one of these lines; a leak fails the test at its end.
    assert.ok(logs.lines.length >= 8, `${logs.lines.length} lines`);
  } finally {
    await events.close();
    await resend.close();
    await postgrest.close();
    await sql.end();
  }
});

Deno.test("the log scan rejects a line with a secret or an email address", () => {
  assert.throws(() => assertSafeLogLine('{"msg":"x","to":"someone@example.com"}'), /email address/);
  assert.throws(() => assertSafeLogLine(`{"msg":"x","key":"${TEST_SIGNING_KEY}"}`), /secret/);
  assertSafeLogLine('{"msg":"Email sent","user_id":"user_123","email_kind":"welcome"}');
});

Deno.test("a leak logged where the code catches errors still fails the test at its end", () => {
  const logs = captureLogs();
  try {
    logs.logger.warn("Email send failed; will retry", { to: "someone@example.com" });
    throw new Error("the code retries here");
  } catch {
    // Code under test swallows or retries: the scan must not depend on a throw.
  }
  console.log('{"msg":"printed, not logged","to":"other@example.com"}');
  scanLogText("dev server started\nsigning key " + TEST_SIGNING_KEY, "deno task dev");
  const found = takeLogViolations();
  assert.equal(found.length, 3, found.join("\n"));
  assert.match(found[0], /^logger: Log line leaks an email address/);
  assert.match(found[1], /^console: Log line leaks an email address/);
  assert.match(found[2], /^deno task dev: Log line leaks a secret/);
  assert.ok(found.every((v) => !v.includes(TEST_SIGNING_KEY)), "the report never repeats a secret");
});
