/**
 * The webhook against a realistic event API: one that checks the event key,
 * and one that accepts an event and then loses the answer.
 */
import assert from "node:assert/strict";
import { createApp } from "../functions/app.ts";
import { clerkPayload, newMessageId, newUserId, signedRequest } from "./support/clerk.ts";
import { captureLogs, TEST_SIGNING_KEY, testEnv } from "./support/env.ts";
import { startEventApi } from "./support/event_api.ts";
import { startInngestEngine } from "./support/inngest_engine.ts";
import type { RunEvent } from "./support/inngest_cloud.ts";

Deno.test("an event accepted whose answer was lost becomes one event, not two", async () => {
  const events = startEventApi();
  const app = createApp(testEnv({ INNGEST_EVENT_API_BASE_URL: events.url }), {
    logger: captureLogs().logger,
    inngestRequestTimeoutMs: 200,
  });
  try {
    events.fault = (n) => n === 1 ? "acceptThenDrop" : "none";
    const svixId = newMessageId();
    const res = await app.handler(
      signedRequest(clerkPayload("user.created", { id: newUserId() }), { id: svixId }),
    );
    await res.body?.cancel();
    assert.equal(res.status, 200, "the SDK's retry was accepted within the deadline");
    assert.deepEqual(
      events.accepted.map((e) => e.id),
      [svixId, svixId],
      "the event API accepted it twice, under the same id",
    );
    const engine = await startInngestEngine({ handler: app.handler, signingKey: TEST_SIGNING_KEY });
    const runs = engine.send(...(events.accepted as RunEvent[]));
    assert.deepEqual(runs.map((r) => r.functionId).sort(), [
      "onboarding-emails",
      "sync-user-from-clerk",
    ]);
    assert.equal(engine.skipped.length, 1, "Inngest drops the second copy by its id");
  } finally {
    await events.close();
  }
});

Deno.test("a wrong event key is refused, and the webhook answers 5xx so that Svix retries", async () => {
  const events = startEventApi();
  const app = createApp(
    testEnv({ INNGEST_EVENT_API_BASE_URL: events.url, INNGEST_EVENT_KEY: "not-the-event-key" }),
    { logger: captureLogs().logger, inngestRequestTimeoutMs: 500 },
  );
  try {
    const res = await app.handler(signedRequest(clerkPayload("user.created")));
    await res.body?.cancel();
    assert.equal(res.status, 502);
    assert.ok(events.unauthorized() > 0, "the event API saw the wrong key");
    assert.deepEqual(events.accepted, [], "no event was accepted");
  } finally {
    await events.close();
  }
});
