import assert from "node:assert/strict";
import { createApp } from "../functions/app.ts";
import { appAt } from "./support/app.ts";
import { clerkPayload, newUserId, signedRequest } from "./support/clerk.ts";
import { captureLogs, healthDetailsRequest, testEnv } from "./support/env.ts";
import {
  oneClickPost,
  readPreference,
  requestTo,
  unsubscribeUrlFor,
} from "./support/email_preferences.ts";
import { startEventApi } from "./support/event_api.ts";
import { withPostgrest } from "./support/postgrest.ts";
import type { Env } from "../functions/settings.ts";

/** Changes the token in `url` by one character in the middle of its signature. */
function tampered(url: string): string {
  const parsed = new URL(url);
  const token = parsed.searchParams.get("token")!;
  const i = token.length - 10;
  parsed.searchParams.set(
    "token",
    token.slice(0, i) + (token[i] === "A" ? "B" : "A") + token.slice(i + 1),
  );
  return parsed.href;
}

Deno.test("one-click unsubscribe records the opt-out only on POST", async (t) => {
  await withPostgrest(async (sql, postgrest) => {
    const app = appAt(postgrest);

    await t.step(
      "POST List-Unsubscribe=One-Click opts out: 200, no redirect, no cookie",
      async () => {
        const id = newUserId();
        const res = await app.handler(oneClickPost(await unsubscribeUrlFor(id)));
        assert.equal(res.status, 200);
        assert.equal(res.headers.get("location"), null);
        assert.equal(res.headers.get("set-cookie"), null);
        assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
        assert.match(await res.text(), /You are unsubscribed/);
        const row = await readPreference(sql, id);
        assert.equal(row?.source, "one_click");
        assert.ok(row?.marketing_opt_out_at instanceof Date);
      },
    );

    await t.step(
      "repeating the POST keeps the marketing opt-out's first time and source",
      async () => {
        const id = newUserId();
        const url = await unsubscribeUrlFor(id);
        await app.handler(oneClickPost(url));
        const first = await readPreference(sql, id);
        const res = await app.handler(oneClickPost(url));
        assert.equal(res.status, 200);
        await res.body?.cancel();
        const again = await readPreference(sql, id);
        // The newsletter's latest opt-out moves (each click counts, see the
        // migration 20261206100000_newsletter_convergence.sql); the marketing one does not.
        assert.deepEqual(
          { at: again?.marketing_opt_out_at, source: again?.source },
          { at: first?.marketing_opt_out_at, source: first?.source },
        );
      },
    );

    await t.step("a multipart body works as well", async () => {
      const id = newUserId();
      const form = new FormData();
      form.set("List-Unsubscribe", "One-Click");
      const res = await app.handler(
        requestTo(await unsubscribeUrlFor(id), { method: "POST", body: form }),
      );
      assert.equal(res.status, 200);
      await res.body?.cancel();
      assert.equal((await readPreference(sql, id))?.source, "one_click");
    });

    await t.step("a body ending in a line break works as well", async () => {
      const id = newUserId();
      const res = await app.handler(
        requestTo(await unsubscribeUrlFor(id), {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: "List-Unsubscribe=One-Click\r\n",
        }),
      );
      assert.equal(res.status, 200);
      await res.body?.cancel();
      assert.equal((await readPreference(sql, id))?.source, "one_click");
    });

    await t.step("GET shows a button that posts, and changes nothing", async () => {
      const id = newUserId();
      const url = await unsubscribeUrlFor(id);
      const res = await app.handler(requestTo(url));
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("cache-control"), "no-store");
      assert.equal(res.headers.get("referrer-policy"), "no-referrer");
      const html = await res.text();
      const form = /<form method="post" action="([^"]+)">/.exec(html);
      assert.ok(form, "the page has a form that posts");
      assert.match(html, /<button type="submit"[^>]*>Unsubscribe<\/button>/);
      assert.match(html, /marketing emails from Acme/);
      assert.equal(await readPreference(sql, id), undefined, "a GET never unsubscribes");

      // The browser posts the form to the action, relative to the page's URL.
      const action = new URL(form[1].replaceAll("&amp;", "&"), url).href;
      const posted = await app.handler(
        requestTo(action, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams(
            [...html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]+)">/g)]
              .map(([, name, value]) => [name, value]),
          ).toString(),
        }),
      );
      assert.equal(posted.status, 200);
      await posted.body?.cancel();
      assert.equal((await readPreference(sql, id))?.source, "page");
    });

    await t.step(
      "a POST without List-Unsubscribe=One-Click gets 400 and changes nothing",
      async () => {
        const id = newUserId();
        const res = await app.handler(
          requestTo(await unsubscribeUrlFor(id), { method: "POST", body: "" }),
        );
        assert.equal(res.status, 400);
        await res.body?.cancel();
        assert.equal(await readPreference(sql, id), undefined);
      },
    );

    await t.step("another method gets 405", async () => {
      const res = await app.handler(
        requestTo(await unsubscribeUrlFor(newUserId()), { method: "PUT", body: "x" }),
      );
      assert.equal(res.status, 405);
      assert.match(res.headers.get("allow") ?? "", /POST/);
      await res.body?.cancel();
    });
  });
});

Deno.test("unsubscribe refuses a missing, changed or misused token", async (t) => {
  await withPostgrest(async (sql, postgrest) => {
    const app = appAt(postgrest);
    const id = newUserId();
    const url = await unsubscribeUrlFor(id);
    const other = newUserId();
    const otherToken = new URL(await unsubscribeUrlFor(other)).searchParams.get("token")!;
    const [version, , mac] = new URL(url).searchParams.get("token")!.split(".");
    const idOf = (token: string) => token.split(".")[1];
    const withToken = (token: string) => {
      const changed = new URL(url);
      changed.searchParams.set("token", token);
      return changed.href;
    };

    const cases: [string, string][] = [
      ["a token with one character changed", tampered(url)],
      ["this signature with another user's id", withToken(`${version}.${idOf(otherToken)}.${mac}`)],
      ["no token", url.replace(/\?.*/, "")],
      ["an empty token", withToken("")],
    ];
    for (const [name, bad] of cases) {
      for (const method of ["POST", "GET"]) {
        await t.step(`${method} with ${name} gets a 400 page and changes nothing`, async () => {
          const res = await app.handler(
            method === "POST" ? oneClickPost(bad) : requestTo(bad),
          );
          assert.equal(res.status, 400);
          assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
          assert.match(await res.text(), /This unsubscribe link is not valid/);
          assert.equal(await readPreference(sql, id), undefined);
          assert.equal(await readPreference(sql, other), undefined);
        });
      }
    }
  });
});

Deno.test("without the unsubscribe settings only unsubscribing stops", async (t) => {
  await withPostgrest(async (_sql, postgrest) => {
    const events = startEventApi();
    const app = appAt(postgrest, {
      UNSUBSCRIBE_SECRET: undefined,
      INNGEST_EVENT_API_BASE_URL: events.url,
    });
    try {
      await t.step("the route answers 503 naming the setting", async () => {
        const res = await app.handler(oneClickPost(await unsubscribeUrlFor(newUserId())));
        assert.equal(res.status, 503);
        assert.match((await res.json()).message, /UNSUBSCRIBE_SECRET is missing/);
      });

      await t.step("/health names it", async () => {
        const res = await app.handler(healthDetailsRequest());
        const body = await res.json();
        assert.equal(body.settings.UNSUBSCRIBE_SECRET, "missing");
        assert.ok(body.problems.some((p: string) => p.startsWith("UNSUBSCRIBE_SECRET is missing")));
      });

      await t.step("Clerk webhooks are still accepted", async () => {
        const res = await app.handler(signedRequest(clerkPayload("user.created")));
        assert.equal(res.status, 200);
        await res.body?.cancel();
      });
    } finally {
      await events.close();
    }
  });
});

Deno.test("unsubscribe settings are validated without echoing them", () => {
  const problems = (env: Env) => {
    const { settings } = createApp(testEnv(env), { logger: captureLogs().logger });
    return settings.unsubscribe.ok ? [] : settings.unsubscribe.problems;
  };
  assert.deepEqual(problems({}), []);
  const short = btoa("too short");
  const [tooShort] = problems({ UNSUBSCRIBE_SECRET: short });
  assert.match(tooShort, /UNSUBSCRIBE_SECRET must be .* at least 32 random bytes/);
  assert.ok(!tooShort.includes(short));
  assert.match(problems({ PUBLIC_FUNCTION_URL: "ftp://x" })[0], /PUBLIC_FUNCTION_URL must be/);
  assert.match(problems({ PUBLIC_FUNCTION_URL: undefined })[0], /PUBLIC_FUNCTION_URL is missing/);
  const rotating = `${btoa("n".repeat(32))} ${btoa("o".repeat(32))}`;
  assert.deepEqual(problems({ UNSUBSCRIBE_SECRET: rotating }), []);
});
