/**
 * The seams of `functions/app.ts`: each route is enabled by the settings
 * groups it needs, and the webhook path needs only its own secret and
 * Inngest's settings.
 */
import assert from "node:assert/strict";
import { createApp } from "../functions/app.ts";
import { clerkPayload, signedRequest } from "./support/clerk.ts";
import { captureLogs, testEnv } from "./support/env.ts";
import { startEventApi } from "./support/event_api.ts";

/** Only what the webhook path needs: its signing secret and the Inngest settings. */
function webhookOnlyEnv(eventApiUrl: string) {
  const full = testEnv();
  return {
    CLERK_WEBHOOK_SIGNING_SECRET: full.CLERK_WEBHOOK_SIGNING_SECRET,
    INNGEST_DEV: full.INNGEST_DEV,
    INNGEST_EVENT_KEY: full.INNGEST_EVENT_KEY,
    INNGEST_SIGNING_KEY: full.INNGEST_SIGNING_KEY,
    INNGEST_EVENT_API_BASE_URL: eventApiUrl,
  };
}

Deno.test("in dev mode the function's own URL lists every route, with its methods", async () => {
  const app = createApp(testEnv({ INNGEST_DEV: "1" }), { logger: captureLogs().logger });
  for (
    const url of ["http://localhost/clerk-events", "http://localhost/functions/v1/clerk-events/"]
  ) {
    const res = await app.handler(new Request(url));
    assert.equal(res.status, 200, url);
    const { routes } = await res.json();
    assert.deepEqual(
      routes,
      app.routes.map(({ path, methods, summary }) => ({ path, methods, summary })),
    );
  }
  const paths = app.routes.map((route) => route.path);
  for (const contract of ["webhook", "inngest", "health", "users/me/sync", "unsubscribe"]) {
    assert.ok(paths.includes(contract), contract);
  }
  for (const path of paths) {
    const res = await app.handler(
      new Request(`http://localhost/clerk-events/${path}`, { method: "PATCH" }),
    );
    // Served: it answers for itself (405, 503, or 404 saying why it is off).
    assert.ok(!(await res.text()).includes("No such route"), `/${path} is served`);
  }
});

Deno.test("the webhook path works with no database, email, Clerk API or unsubscribe settings", async (t) => {
  const events = startEventApi();
  const called: string[] = [];
  const counting: typeof fetch = (input, init) => {
    called.push(new URL(input instanceof Request ? input.url : String(input)).origin);
    return fetch(input, init);
  };
  const app = createApp(webhookOnlyEnv(events.url), {
    logger: captureLogs().logger,
    fetch: counting,
  });
  try {
    await t.step("a signed Clerk webhook is accepted and handed to Inngest", async () => {
      const req = signedRequest(clerkPayload("user.created"));
      const svixId = req.headers.get("svix-id");
      const res = await app.handler(req);
      assert.equal(res.status, 200, await res.clone().text());
      assert.equal((await res.json()).id, svixId);
      assert.deepEqual(events.accepted.map((e) => e.id), [svixId]);
    });

    await t.step("only Inngest's event API was called", () => {
      assert.deepEqual([...new Set(called)], [new URL(events.url).origin]);
    });

    const routes = [
      ["POST", "users/me/sync", /CLERK_SECRET_KEY is missing/],
      ["POST", "unsubscribe?token=x", /UNSUBSCRIBE_SECRET/],
      ["POST", "resend-webhook", /RESEND_WEBHOOK_SECRET/],
    ] as const;
    for (const [method, path, names] of routes) {
      await t.step(`${method} /${path} answers 503 naming what it lacks`, async () => {
        const res = await app.handler(
          new Request(`http://localhost/clerk-events/${path}`, { method, body: "" }),
        );
        assert.equal(res.status, 503);
        const { message } = await res.json();
        assert.match(message, names);
        assert.match(message, /SUPABASE_URL is missing/);
      });
    }

    await t.step("/health is not ready", async () => {
      const res = await app.handler(new Request("http://localhost/clerk-events/health"));
      assert.equal(res.status, 503);
      await res.body?.cancel();
    });
  } finally {
    await events.close();
  }
});
