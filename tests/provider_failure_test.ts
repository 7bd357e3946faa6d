/**
 * One way to read a provider's failure: every client classifies a failed
 * answer with `functions/util/provider_failure.ts`, and every workflow turns
 * the class into the same retry decision (`providerFailure`). Each client is
 * driven against a server that answers what the provider would.
 */
import assert from "node:assert/strict";
import { NonRetriableError, RetryAfterError } from "inngest";
import { failure as clerkFailure } from "../functions/clerk/backend_api.ts";
import { createResendMailer } from "../functions/email/resend_mailer.ts";
import {
  AUTH_RETRY_MS,
  DEFAULT_RATE_LIMIT_WAIT_MS,
  providerFailure,
} from "../functions/inngest/step_errors.ts";
import { createMailchimpProvider } from "../functions/newsletter/mailchimp.ts";
import { createResendContactsProvider } from "../functions/newsletter/resend_contacts.ts";
import { createStripeBilling } from "../functions/stripe_trial/stripe_sdk.ts";
import { failureKind, parseRetryAfter } from "../functions/util/provider_failure.ts";

Deno.test("a status reads as one kind of failure", () => {
  const kinds = Object.fromEntries(
    [null, 400, 401, 403, 404, 408, 409, 410, 422, 429, 500, 502, 503].map((s) => [
      String(s),
      failureKind(s),
    ]),
  );
  assert.deepEqual(kinds, {
    null: "transient",
    400: "permanent",
    401: "auth",
    403: "auth",
    404: "permanent",
    408: "transient",
    409: "transient",
    410: "permanent",
    422: "permanent",
    429: "rate_limited",
    500: "transient",
    502: "transient",
    503: "transient",
  });
});

Deno.test("Retry-After is read in seconds or as an HTTP date, and nothing else", () => {
  const now = Date.parse("2026-12-06T12:00:00Z");
  assert.equal(parseRetryAfter("7", now), 7_000);
  assert.equal(parseRetryAfter(" 1.5 ", now), 1_500);
  assert.equal(parseRetryAfter("Sun, 06 Dec 2026 12:00:30 GMT", now), 30_000);
  assert.equal(parseRetryAfter("Sun, 06 Dec 2026 11:00:00 GMT", now), 0, "a past date waits 0");
  for (const bad of [undefined, null, "", "soon", "-3"]) {
    assert.equal(parseRetryAfter(bad, now), undefined, String(bad));
  }
});

Deno.test("each kind becomes one retry decision", () => {
  const failed = (kind: string, retryAfterMs?: number) =>
    providerFailure("Cannot do it", Object.assign(new Error("refused"), { kind, retryAfterMs }));
  const rateLimited = failed("rate_limited", 4_000);
  assert.ok(rateLimited instanceof RetryAfterError);
  assert.equal(rateLimited.retryAfter, "4");
  const rateLimitedBare = failed("rate_limited");
  assert.ok(rateLimitedBare instanceof RetryAfterError);
  assert.equal(rateLimitedBare.retryAfter, String(DEFAULT_RATE_LIMIT_WAIT_MS / 1000));
  const auth = failed("auth");
  assert.ok(auth instanceof RetryAfterError, "a refused key is retried, after a long wait");
  assert.equal(auth.retryAfter, String(AUTH_RETRY_MS / 1000));
  assert.ok(failed("permanent") instanceof NonRetriableError);
  const transient = failed("transient");
  assert.ok(!(transient instanceof NonRetriableError) && !(transient instanceof RetryAfterError));
  assert.match(transient.message, /^Cannot do it: refused/);
});

/** A server that answers every request with `status` (and a Retry-After of 3 s on a 429). */
function answering(status: number, body: unknown) {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    await req.body?.cancel();
    return Response.json(body, {
      status,
      headers: status === 429 ? { "retry-after": "3" } : {},
    });
  });
  return { url: `http://127.0.0.1:${server.addr.port}`, close: () => server.shutdown() };
}

/** Every provider's client, failing its first call against `url`. */
const CLIENTS: Record<string, (url: string) => Promise<unknown>> = {
  "Resend (emails)": (url) =>
    createResendMailer({ apiKey: "re_test", baseUrl: url }).send({
      from: "a@example.com",
      to: "b@example.com",
      subject: "s",
      html: "h",
      text: "t",
    }, "key"),
  "Resend (contacts)": (url) =>
    createResendContactsProvider({ apiKey: "re_test", segmentId: "seg", baseUrl: url })
      .unsubscribe("b@example.com"),
  Mailchimp: (url) =>
    createMailchimpProvider({ apiKey: "k-us1", audienceId: "aud", apiUrl: url })
      .unsubscribe("b@example.com"),
  Stripe: (url) => {
    const { hostname, port } = new URL(url);
    return createStripeBilling({
      secretKey: "sk_test_x",
      trialPriceId: "price_x",
      trialDays: 14,
      endpoint: { host: hostname, port: Number(port), protocol: "http" },
    }).deleteCustomer("cus_1");
  },
  "Clerk's Backend API": async (url) => {
    throw await clerkFailure(await fetch(url), "Cannot get Clerk user");
  },
};

for (
  const [status, kind] of [
    [401, "auth"],
    [403, "auth"],
    [429, "rate_limited"],
    [422, "permanent"],
    [503, "transient"],
  ] as const
) {
  Deno.test(`every provider reads a ${status} as ${kind}, and its step retries the same way`, async (t) => {
    const server = answering(status, {
      // Each provider's error shape, merged: each client reads its own fields.
      name: "error",
      message: "refused",
      statusCode: status,
      title: "Refused",
      error: { type: "invalid_request_error", message: "refused" },
      errors: [{ code: "refused" }],
    });
    try {
      for (const [name, call] of Object.entries(CLIENTS)) {
        await t.step(name, async () => {
          const error = await call(server.url).then(() => undefined, (e) => e);
          assert.ok(error instanceof Error, `${name} failed`);
          assert.equal((error as { kind?: string }).kind, kind, `${name}: ${error.message}`);
          const decision = providerFailure("Cannot do it", error as Error & { kind: string });
          if (kind === "permanent") assert.ok(decision instanceof NonRetriableError);
          else if (kind === "transient") assert.ok(!(decision instanceof RetryAfterError));
          else assert.ok(decision instanceof RetryAfterError, `${name}: ${decision.message}`);
        });
      }
    } finally {
      await server.close();
    }
  });
}
