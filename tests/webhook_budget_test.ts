/**
 * The webhook answers within Svix's 15 seconds as a whole: a stage that ran
 * long (Clerk's emails give Resend up to 10 s) leaves Inngest only what is
 * left of the request's budget, not a fresh 10 s.
 */
import assert from "node:assert/strict";
import { errorResponse } from "../functions/http/http_error.ts";
import { createWebhookHandler } from "../functions/http/webhook.ts";
import { createVerifier } from "../functions/svix/verify.ts";
import { clerkPayload, signedRequest, TEST_SECRET } from "./support/clerk.ts";
import { captureLogs } from "./support/env.ts";

Deno.test("a slow stage leaves Inngest only what is left of the answer's budget", async () => {
  let release = () => {};
  const hanging = new Promise<void>((resolve) => release = resolve);
  const handler = createWebhookHandler({
    verify: createVerifier([TEST_SECRET]),
    events: [],
    stages: [{
      type: "user.created",
      run: async (event) => {
        await new Promise((resolve) => setTimeout(resolve, 300));
        return event.data;
      },
    }],
    send: () => hanging, // Inngest never answers
    logger: captureLogs().logger,
    sendDeadlineMs: 10_000,
    answerWithinMs: 500,
  });
  const started = performance.now();
  try {
    const res = await handler(signedRequest(clerkPayload("user.created"))).catch(errorResponse);
    const elapsed = performance.now() - started;
    assert.equal(res.status, 504, await res.text());
    // Without the shared budget the send would have had its own 10 s.
    assert.ok(elapsed < 5_000, `answered after ${Math.round(elapsed)} ms`);
  } finally {
    release();
  }
});
