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
import { assertSafeLogLine, captureLogs, TEST_SIGNING_KEY, testEnv } from "./support/env.ts";
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
    // captureLogs checked every one of these lines with assertSafeLogLine.
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
