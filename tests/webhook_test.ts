import assert from "node:assert/strict";
import { createApp } from "../functions/app.ts";
import {
  clerkPayload,
  type FixtureType,
  newMessageId,
  OTHER_SECRET,
  signedRequest,
  signHeaders,
  TEST_SECRET,
} from "./support/clerk.ts";
import { captureLogs, testEnv } from "./support/env.ts";
import { type EventApi, startEventApi } from "./support/event_api.ts";
import type { Env } from "../functions/settings.ts";

interface Harness {
  api: EventApi;
  handle: (req: Request) => Promise<Response>;
  background: Promise<unknown>[];
  close(): Promise<void>;
}

function harness(env: Env = {}, options: { sendDeadlineMs?: number; timeoutMs?: number } = {}) {
  const api = startEventApi();
  const logs = captureLogs();
  const background: Promise<unknown>[] = [];
  const app = createApp(testEnv({ INNGEST_EVENT_API_BASE_URL: api.url, ...env }), {
    logger: logs.logger,
    sendDeadlineMs: options.sendDeadlineMs,
    inngestRequestTimeoutMs: options.timeoutMs,
    waitUntil: (p) => background.push(p),
  });
  const h: Harness = {
    api,
    handle: app.handler,
    background,
    close: async () => {
      await Promise.allSettled(background);
      await api.close();
    },
  };
  return h;
}

async function withHarness(
  fn: (h: Harness) => Promise<void>,
  env: Env = {},
  options: { sendDeadlineMs?: number; timeoutMs?: number } = {},
) {
  const h = harness(env, options);
  try {
    await fn(h);
  } finally {
    await h.close();
  }
}

/** Replaces one header of a signed request, keeping everything else. */
function withHeaders(req: Request, change: (headers: Headers) => void, body: string): Request {
  const headers = new Headers(req.headers);
  change(headers);
  return new Request(req.url, { method: "POST", headers, body });
}

Deno.test("webhook forwards signed Clerk user events to Inngest", async (t) => {
  for (const type of ["user.created", "user.updated", "user.deleted"] as FixtureType[]) {
    await t.step(
      `${type} becomes clerk/${type} with the svix-id, data and timestamp`,
      () =>
        withHarness(async ({ api, handle }) => {
          const payload = clerkPayload(type);
          const id = newMessageId();
          const res = await handle(signedRequest(payload, { id }));
          assert.equal(res.status, 200);
          assert.deepEqual(await res.json(), { status: "accepted", id, name: `clerk/${type}` });
          assert.equal(api.accepted.length, 1);
          const [event] = api.accepted;
          assert.equal(event.id, id);
          assert.equal(event.name, `clerk/${type}`);
          assert.equal(event.ts, payload.timestamp);
          assert.deepEqual(event.data, payload.data);
        }),
    );
  }

  await t.step(
    "unknown fields in the payload are forwarded unchanged",
    () =>
      withHarness(async ({ api, handle }) => {
        const payload = clerkPayload("user.created", { brand_new_field: { nested: [1, 2] } });
        payload.brand_new_envelope_field = true;
        const res = await handle(signedRequest(payload));
        assert.equal(res.status, 200);
        assert.deepEqual(api.accepted[0].data.brand_new_field, { nested: [1, 2] });
      }),
  );

  await t.step(
    "event types no workflow consumes are forwarded too",
    () =>
      withHarness(async ({ api, handle }) => {
        const payload = {
          type: "session.created",
          object: "event",
          timestamp: 1654012591835,
          data: { id: "sess_123", object: "session", user_id: "user_123" },
        };
        const res = await handle(signedRequest(payload));
        assert.equal(res.status, 200);
        assert.equal(api.accepted[0].name, "clerk/session.created");
      }),
  );

  await t.step(
    "the /functions/v1 prefix is accepted as well",
    () =>
      withHarness(async ({ api, handle }) => {
        const res = await handle(
          signedRequest(clerkPayload("user.created"), {
            url: "http://localhost/functions/v1/clerk-events/webhook",
          }),
        );
        assert.equal(res.status, 200);
        assert.equal(api.accepted.length, 1);
      }),
  );
});

Deno.test("webhook accepts valid variants of the signature headers", async (t) => {
  await t.step(
    "several signatures of which one is valid",
    () =>
      withHarness(async ({ api, handle }) => {
        const body = JSON.stringify(clerkPayload("user.created"));
        const req = signedRequest(body);
        const valid = req.headers.get("svix-signature")!;
        const bogus = "v1,Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4cXV1eHF1dXg= v1a,abc";
        const res = await handle(withHeaders(req, (h) => {
          h.set("svix-signature", `${bogus} ${valid}`);
        }, body));
        assert.equal(res.status, 200);
        assert.equal(api.accepted.length, 1);
      }),
  );

  await t.step(
    "a delivery signed with the rotated-in secret",
    () =>
      withHarness(async ({ api, handle }) => {
        const res = await handle(
          signedRequest(clerkPayload("user.created"), { secret: OTHER_SECRET }),
        );
        assert.equal(res.status, 200);
        assert.equal(api.accepted.length, 1);
      }, { CLERK_WEBHOOK_SIGNING_SECRET: `${TEST_SECRET} ${OTHER_SECRET}` }),
  );

  await t.step("the webhook-* header aliases", () =>
    withHarness(async ({ api, handle }) => {
      const id = newMessageId();
      const res = await handle(
        signedRequest(clerkPayload("user.created"), { id, prefix: "webhook" }),
      );
      assert.equal(res.status, 200);
      assert.equal(api.accepted[0].id, id);
    }));
});

Deno.test("webhook rejects what it cannot verify, and forwards nothing", async (t) => {
  const body = JSON.stringify(clerkPayload("user.created"));

  for (const header of ["svix-id", "svix-timestamp", "svix-signature"]) {
    await t.step(`missing ${header} gives 401`, () =>
      withHarness(async ({ api, handle }) => {
        const res = await handle(withHeaders(signedRequest(body), (h) => h.delete(header), body));
        assert.equal(res.status, 401);
        assert.equal((await res.json()).error, "invalid_signature");
        assert.equal(api.requests(), 0);
      }));
  }

  await t.step("a different secret gives 401", () =>
    withHarness(async ({ api, handle }) => {
      const res = await handle(signedRequest(body, { secret: OTHER_SECRET }));
      assert.equal(res.status, 401);
      assert.equal(api.requests(), 0);
    }));

  await t.step("one tampered byte gives 401", () =>
    withHarness(async ({ api, handle }) => {
      const req = signedRequest(body);
      const tampered = body.replace('"Example"', '"Exbmple"');
      assert.notEqual(tampered, body);
      const res = await handle(withHeaders(req, () => {}, tampered));
      assert.equal(res.status, 401);
      assert.equal(api.requests(), 0);
    }));

  for (const [label, offsetMinutes] of [["6 minutes old", -6], ["6 minutes ahead", 6]] as const) {
    await t.step(`a timestamp ${label} gives 401`, () =>
      withHarness(async ({ api, handle }) => {
        const at = new Date(Date.now() + offsetMinutes * 60_000);
        const res = await handle(signedRequest(body, { at }));
        assert.equal(res.status, 401);
        assert.equal(api.requests(), 0);
      }));
  }

  await t.step(
    "a signature over the re-serialized JSON instead of the raw body gives 401",
    () =>
      withHarness(async ({ api, handle }) => {
        const pretty = JSON.stringify(JSON.parse(body), null, 2);
        const req = signedRequest(pretty);
        const res = await handle(withHeaders(req, () => {}, body));
        assert.equal(res.status, 401);
        assert.equal(api.requests(), 0);
      }),
  );
});

Deno.test("webhook answers 4xx for requests that are not Clerk events", async (t) => {
  await t.step(
    "valid JSON that is not a Clerk event gives 400",
    () =>
      withHarness(async ({ api, handle }) => {
        const res = await handle(signedRequest(JSON.stringify({ hello: "world" })));
        assert.equal(res.status, 400);
        assert.equal((await res.json()).error, "invalid_payload");
        assert.equal(api.requests(), 0);
      }),
  );

  await t.step(
    "invalid JSON behind a valid signature gives 400",
    () =>
      withHarness(async ({ api, handle }) => {
        const res = await handle(signedRequest('{"type": "user.created", '));
        assert.equal(res.status, 400);
        assert.equal(api.requests(), 0);
      }),
  );

  await t.step(
    "user.created whose data is not a user gives 400",
    () =>
      withHarness(async ({ api, handle }) => {
        const payload = clerkPayload("user.created", { email_addresses: "nope", updated_at: "x" });
        const res = await handle(signedRequest(payload));
        assert.equal(res.status, 400);
        assert.match((await res.json()).message, /user\.created/);
        assert.equal(api.requests(), 0);
      }),
  );

  await t.step(
    "a body over 256 KiB gives 413 before anything is parsed",
    () =>
      withHarness(async ({ api, handle }) => {
        const payload = clerkPayload("user.created", { padding: "x".repeat(300 * 1024) });
        const res = await handle(signedRequest(payload));
        assert.equal(res.status, 413);
        assert.equal(api.requests(), 0);
      }),
  );

  await t.step(
    "an oversized body without content-length gives 413",
    () =>
      withHarness(async ({ api, handle }) => {
        const chunk = new TextEncoder().encode("x".repeat(64 * 1024));
        let sent = 0;
        const stream = new ReadableStream<Uint8Array>({
          pull(controller) {
            if (sent++ < 8) controller.enqueue(chunk);
            else controller.close();
          },
        });
        const req = new Request("http://localhost/clerk-events/webhook", {
          method: "POST",
          headers: signHeaders("irrelevant"),
          body: stream,
        });
        assert.equal(req.headers.get("content-length"), null);
        const res = await handle(req);
        assert.equal(res.status, 413);
        assert.ok(sent < 8, "reading stopped once the limit was passed");
        assert.equal(api.requests(), 0);
      }),
  );

  await t.step("GET gives 405 with Allow: POST", () =>
    withHarness(async ({ api, handle }) => {
      const res = await handle(new Request("http://localhost/clerk-events/webhook"));
      assert.equal(res.status, 405);
      assert.equal(res.headers.get("allow"), "POST");
      await res.body?.cancel();
      assert.equal(api.requests(), 0);
    }));

  await t.step("an unknown route gives 404", () =>
    withHarness(async ({ handle }) => {
      const res = await handle(new Request("http://localhost/clerk-events/nope"));
      assert.equal(res.status, 404);
      await res.body?.cancel();
    }));
});

Deno.test("webhook answers 5xx when Inngest does not accept the event", async (t) => {
  await t.step(
    "the event API answering 500 on every attempt gives 502",
    () =>
      withHarness(async ({ api, handle }) => {
        api.fault = () => "error500";
        const res = await handle(signedRequest(clerkPayload("user.created")));
        assert.equal(res.status, 502);
        assert.equal((await res.json()).error, "inngest_unavailable");
        assert.equal(api.accepted.length, 0);
        assert.ok(api.requests() > 1, "the SDK retried before giving up");
      }),
  );

  await t.step(
    "one 500 followed by success still gives 200 with one event",
    () =>
      withHarness(async ({ api, handle }) => {
        api.fault = (n) => n === 1 ? "error500" : "none";
        const res = await handle(signedRequest(clerkPayload("user.created")));
        assert.equal(res.status, 200);
        assert.equal(api.accepted.length, 1);
      }),
  );

  await t.step(
    "a hanging event API gives 504 within the deadline",
    () =>
      withHarness(
        async ({ api, handle }) => {
          api.fault = () => "hang";
          const started = Date.now();
          const res = await handle(signedRequest(clerkPayload("user.created")));
          const elapsed = Date.now() - started;
          assert.equal(res.status, 504);
          assert.equal((await res.json()).error, "inngest_timeout");
          assert.ok(elapsed < 2_000, `answered after ${elapsed} ms, deadline 300 ms`);
          assert.equal(api.accepted.length, 0);
        },
        {},
        { sendDeadlineMs: 300, timeoutMs: 100 },
      ),
  );

  await t.step(
    "a redelivery with the same svix-id after a failure becomes the same event",
    () =>
      withHarness(async ({ api, handle }) => {
        const body = JSON.stringify(clerkPayload("user.created"));
        const id = newMessageId();
        api.fault = () => "error500";
        assert.equal((await handle(signedRequest(body, { id }))).status, 502);
        api.fault = () => "none";
        const res = await handle(signedRequest(body, { id }));
        assert.equal(res.status, 200);
        assert.deepEqual(api.accepted.map((e) => e.id), [id]);
      }),
  );
});

Deno.test("webhook answers 503 naming the problem while its settings are invalid", async () => {
  await withHarness(async ({ api, handle }) => {
    const res = await handle(signedRequest(clerkPayload("user.created")));
    assert.equal(res.status, 503);
    const body = await res.json();
    assert.match(body.message, /CLERK_WEBHOOK_SIGNING_SECRET/);
    assert.equal(api.requests(), 0);
  }, { CLERK_WEBHOOK_SIGNING_SECRET: undefined });
});

Deno.test("webhook says 'could not reach' when nothing answers at Inngest's URL", async (t) => {
  const closed = startEventApi();
  const url = closed.url;
  await closed.close();
  for (const mode of ["cloud", "dev"] as const) {
    await t.step(`${mode} mode: 502 inngest_unreachable naming the URL`, async () => {
      const logs = captureLogs();
      const app = createApp(
        testEnv({ INNGEST_EVENT_API_BASE_URL: url, INNGEST_DEV: mode === "dev" ? "1" : "0" }),
        {
          logger: logs.logger,
          devServeUrl: "http://127.0.0.1:8930/functions/v1/clerk-events/inngest",
        },
      );
      const res = await app.handler(signedRequest(clerkPayload("user.created")));
      const body = await res.json();
      assert.equal(res.status, 502);
      assert.equal(body.error, "inngest_unreachable");
      assert.match(body.message, new RegExp(`^Could not reach Inngest at ${new URL(url).origin}`));
      assert.doesNotMatch(body.message, /refused|did not accept/);
      if (mode === "dev") {
        assert.match(body.message, /start it: npx --yes inngest-cli@\d+\.\d+\.\d+ dev .*-u http/);
      }
      const line = logs.records().find((r) => r.level === "error");
      assert.equal(line?.msg, "Webhook not forwarded: could not reach Inngest");
    });
  }
});
