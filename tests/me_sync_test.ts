import assert from "node:assert/strict";
import { InngestTestEngine } from "@inngest/test";
import type { App } from "../functions/app.ts";
import { appAt } from "./support/app.ts";
import type { Env } from "../functions/settings.ts";
import { newMessageId, newUserId } from "./support/clerk.ts";
import {
  type ClerkApi,
  clerkUser,
  type ClerkUserObject,
  startClerkApi,
} from "./support/clerk_api.ts";
import { type CapturedLogs, captureLogs } from "./support/env.ts";
import type { RunEvent } from "./support/inngest_cloud.ts";
import { type Postgrest, withPostgrest } from "./support/postgrest.ts";
import { createTestInstance, mintSessionToken } from "./support/session_tokens.ts";
import { readUser } from "./support/users.ts";
import type postgres from "postgres";

const APP_ORIGIN = "https://acme.test";
const acme = await createTestInstance("acme");
const other = await createTestInstance("other");

interface Harness {
  readonly sql: postgres.Sql;
  readonly clerk: ClerkApi;
  readonly app: App;
  readonly logs: CapturedLogs;
  /** POSTs to the route with `token` (no header when undefined). */
  sync(token?: string, headers?: Record<string, string>): Promise<Response>;
  /** A Clerk user that exists in the stand-in, and a token for them. */
  signedUp(
    fields?: Parameters<typeof clerkUser>[0],
  ): Promise<{ user: ClerkUserObject; token: string }>;
  /** Requests for users that reached the Backend API stand-in. */
  userRequests(): number;
  jwksRequests(): number;
}

/** Runs `fn` with the database, the Backend API stand-in serving acme's JWKS, and the app. */
async function withHarness(env: Env, fn: (h: Harness) => Promise<void>): Promise<void> {
  await withPostgrest(async (sql, postgrest: Postgrest) => {
    const clerk = startClerkApi();
    clerk.jwks = { keys: [acme.jwk] };
    const logs = captureLogs();
    const app = appAt(postgrest, { CLERK_API_URL: clerk.url, ...env }, { logger: logs.logger });
    const harness: Harness = {
      sql,
      clerk,
      app,
      logs,
      sync: (token, headers = {}) =>
        app.handler(
          new Request("http://localhost/clerk-events/users/me/sync", {
            method: "POST",
            headers: {
              origin: APP_ORIGIN,
              ...(token ? { authorization: `Bearer ${token}` } : {}),
              ...headers,
            },
          }),
        ),
      async signedUp(fields = {}) {
        const user = clerkUser(fields);
        clerk.putUser(user);
        return { user, token: await mintSessionToken(acme, { sub: user.id }) };
      },
      userRequests: () =>
        clerk.requests.filter((r) =>
          r.path.startsWith("/v1/users") && !r.path.endsWith("/organization_memberships")
        ).length,
      jwksRequests: () => clerk.requests.filter((r) => r.path === "/v1/jwks").length,
    };
    try {
      await fn(harness);
      for (const line of logs.lines) {
        assert.ok(!/eyJ[\w-]+\.eyJ/.test(line), `a log line carries a token: ${line}`);
      }
    } finally {
      await clerk.close();
    }
  });
}

function syncUserFunction(app: App) {
  const found = app.functions.find((f) => f.id() === "sync-user-from-clerk");
  assert.ok(found, "sync-user-from-clerk is served");
  return found;
}

/** Runs sync-user-from-clerk on a user.created webhook carrying `data`. */
function webhookArrives(app: App, type: "user.created" | "user.updated", data: ClerkUserObject) {
  const event: RunEvent = {
    id: newMessageId(),
    name: `clerk/${type}`,
    data,
    ts: Date.now(),
  };
  return new InngestTestEngine({ function: syncUserFunction(app) }).execute({
    events: [event] as [RunEvent],
  });
}

for (
  const [mode, env] of [["CLERK_JWT_KEY", { CLERK_JWT_KEY: acme.publicKeyPem }], [
    "the JWKS",
    {},
  ]] as const
) {
  Deno.test(`a signed-in user makes their own row exist before the webhook (keys from ${mode})`, async (t) => {
    await withHarness(env, async (h) => {
      const { user, token } = await h.signedUp({
        email: "ada@example.com",
        updatedAt: 1_700_000_500_000,
      });
      await t.step("a valid token creates the row from Clerk's Backend API", async () => {
        const res = await h.sync(token);
        assert.equal(res.status, 200);
        assert.equal(res.headers.get("access-control-allow-origin"), APP_ORIGIN);
        const body = await res.json();
        assert.equal(body.outcome, "inserted");
        assert.equal(body.source, "clerk");
        assert.deepEqual(
          { ...body.user, clerk_updated_at: new Date(body.user.clerk_updated_at).getTime() },
          {
            id: user.id,
            email: "ada@example.com",
            first_name: "Ada",
            last_name: "Lovelace",
            username: null,
            image_url: `https://img.clerk.com/${user.id}`,
            clerk_updated_at: 1_700_000_500_000,
          },
        );
        const stored = await readUser(h.sql, user.id);
        assert.equal(stored?.email, "ada@example.com", "the primary address, not the first");
        assert.equal(h.userRequests(), 1);
        assert.equal(h.jwksRequests(), mode === "CLERK_JWT_KEY" ? 0 : 1);
      });

      await t.step(
        "a webhook that arrives later with an older updated_at changes nothing",
        async () => {
          const older = { ...user, first_name: "Old", updated_at: user.updated_at - 1_000 };
          const { result } = await webhookArrives(h.app, "user.created", older);
          assert.deepEqual(result, { userId: user.id, outcome: "stale" });
          assert.equal((await readUser(h.sql, user.id))?.first_name, "Ada");
        },
      );

      await t.step("a newer webhook still updates it", async () => {
        const newer = { ...user, first_name: "Augusta", updated_at: user.updated_at + 1_000 };
        const { result } = await webhookArrives(h.app, "user.updated", newer);
        assert.deepEqual(result, { userId: user.id, outcome: "updated" });
      });

      await t.step("the keys are fetched once, not per request", async () => {
        const before = h.jwksRequests();
        for (let i = 0; i < 3; i++) {
          const { token } = await h.signedUp();
          assert.equal((await h.sync(token)).status, 200);
        }
        assert.equal(h.jwksRequests(), before);
      });
    });
  });
}

Deno.test("a token that is not this instance's valid session token gets 401 and writes nothing", async (t) => {
  await withHarness(
    { CLERK_AUTHORIZED_PARTIES: `${APP_ORIGIN} https://www.acme.test` },
    async (h) => {
      const cases: Record<string, (sub: string) => Promise<string | undefined>> = {
        "no Authorization header": () => Promise.resolve(undefined),
        "a malformed token": () => Promise.resolve("not.a-token"),
        "an expired token": (sub) => mintSessionToken(acme, { sub, expiresIn: -60 }),
        "a token not valid yet": (sub) =>
          mintSessionToken(acme, { sub, issuedIn: 300, expiresIn: 360 }),
        "a token signed with another key under our kid": (sub) =>
          mintSessionToken(other, { sub, kid: acme.kid }),
        "alg none": (sub) => mintSessionToken(acme, { sub, header: { alg: "none" } }),
        "a wrong azp": (sub) => mintSessionToken(acme, { sub, azp: "https://evil.test" }),
        "a token of another Clerk instance": (sub) => mintSessionToken(other, { sub }),
      };
      const bodies = new Set<string>();
      for (const [name, mint] of Object.entries(cases)) {
        await t.step(name, async () => {
          const user = clerkUser();
          h.clerk.putUser(user);
          const res = await h.sync(await mint(user.id));
          assert.equal(res.status, 401);
          assert.equal(res.headers.get("www-authenticate"), "Bearer");
          assert.equal(
            res.headers.get("access-control-allow-origin"),
            APP_ORIGIN,
            "the browser can read it",
          );
          bodies.add(await res.text());
          assert.equal(await readUser(h.sql, user.id), undefined, "no row was written");
        });
      }
      await t.step("every refusal looks the same, and nothing reached the users API", () => {
        assert.equal(bodies.size, 1, [...bodies].join("\n"));
        assert.equal(h.userRequests(), 0);
      });
      await t.step("the same user with a good token gets through", async () => {
        const { token } = await h.signedUp();
        assert.equal((await h.sync(token)).status, 200);
      });
    },
  );
});

Deno.test("a deleted user gets 404 or 410 and no row with personal data", async (t) => {
  await withHarness({}, async (h) => {
    await t.step("deleted in Clerk with a row here: 404, and the row is erased", async () => {
      const { user, token } = await h.signedUp();
      assert.equal((await h.sync(token)).status, 200);
      await h
        .sql`update public.users set updated_at = now() - interval '1 day', clerk_checked_at = null
                   where id = ${user.id}`;
      h.clerk.deleteUser(user.id);
      const res = await h.sync(token);
      assert.equal(res.status, 404);
      assert.equal((await res.json()).error, "user_not_found");
      const stored = await readUser(h.sql, user.id);
      assert.ok(stored?.deleted_at, "a tombstone");
      assert.deepEqual(
        [stored.email, stored.first_name, stored.last_name, stored.username, stored.image_url],
        [null, null, null, null, null],
      );
    });

    await t.step("then 410, from the database, without asking Clerk", async () => {
      const { user, token } = await h.signedUp();
      await h.sql`select public.delete_user_from_clerk(${user.id}, now())`;
      const before = h.userRequests();
      const res = await h.sync(token);
      assert.equal(res.status, 410);
      assert.equal((await res.json()).error, "user_deleted");
      assert.equal(h.userRequests(), before);
    });

    await t.step("deleted in Clerk and never synced: 404 and no row", async () => {
      const id = newUserId();
      const res = await h.sync(await mintSessionToken(acme, { sub: id }));
      assert.equal(res.status, 404);
      assert.equal(await readUser(h.sql, id), undefined);
    });

    await t.step("a tombstone is never brought back by a sync", async () => {
      const { user, token } = await h.signedUp();
      await h.sql`select public.delete_user_from_clerk(${user.id}, now())`;
      await h
        .sql`update public.users set updated_at = now() - interval '1 day' where id = ${user.id}`;
      assert.equal((await h.sync(token)).status, 410);
      assert.equal((await readUser(h.sql, user.id))?.email, null);
    });
  });
});

Deno.test("repeated calls within the freshness window make no Backend API request", async (t) => {
  await withHarness({}, async (h) => {
    const { user, token } = await h.signedUp();
    await t.step("the first call reads Clerk, the next ones only the database", async () => {
      assert.equal((await (await h.sync(token)).json()).outcome, "inserted");
      for (let i = 0; i < 4; i++) {
        const res = await h.sync(token);
        assert.equal(res.status, 200);
        const body = await res.json();
        assert.deepEqual([body.outcome, body.source], ["unchanged", "database"]);
        assert.equal(body.user.id, user.id);
      }
      assert.equal(h.userRequests(), 1);
    });

    await t.step("a row written by the webhook just now is fresh too", async () => {
      const fresh = clerkUser();
      h.clerk.putUser(fresh);
      await webhookArrives(h.app, "user.created", fresh);
      const before = h.userRequests();
      const res = await h.sync(await mintSessionToken(acme, { sub: fresh.id }));
      assert.equal((await res.json()).source, "database");
      assert.equal(h.userRequests(), before);
    });

    await t.step("once the window has passed, Clerk is asked again", async () => {
      await h.sql`update public.users set updated_at = now() - interval '1 hour',
                   clerk_checked_at = now() - interval '1 hour' where id = ${user.id}`;
      const unchanged = await (await h.sync(token)).json();
      assert.deepEqual([unchanged.outcome, unchanged.source], ["unchanged", "clerk"]);
      assert.equal(h.userRequests(), 2);

      await h
        .sql`update public.users set clerk_checked_at = now() - interval '1 hour' where id = ${user.id}`;
      h.clerk.updateUser(user.id, { first_name: "Augusta" });
      const updated = await (await h.sync(token)).json();
      assert.deepEqual([updated.outcome, updated.user.first_name], ["updated", "Augusta"]);
    });

    await t.step("a row newer than what Clerk answers is kept, as stale", async () => {
      const { user: late, token: lateToken } = await h.signedUp();
      await webhookArrives(h.app, "user.updated", {
        ...late,
        first_name: "Newer",
        updated_at: late.updated_at + 5_000,
      });
      await h
        .sql`update public.users set updated_at = now() - interval '1 hour' where id = ${late.id}`;
      const body = await (await h.sync(lateToken)).json();
      assert.deepEqual([body.outcome, body.user.first_name], ["stale", "Newer"]);
    });
  });
});

Deno.test("one user calling too often, or Clerk rate limiting, gets 429 with Retry-After", async (t) => {
  await withHarness({}, async (h) => {
    await t.step("the eleventh call within a minute is refused", async () => {
      const { token } = await h.signedUp();
      for (let i = 0; i < 10; i++) assert.equal((await h.sync(token)).status, 200, `call ${i + 1}`);
      const res = await h.sync(token);
      assert.equal(res.status, 429);
      assert.ok(Number(res.headers.get("retry-after")) >= 1);
      assert.equal(res.headers.get("access-control-expose-headers"), "retry-after");
      const { token: someoneElse } = await h.signedUp();
      assert.equal((await h.sync(someoneElse)).status, 200, "other users are not affected");
    });

    await t.step("Clerk's 429 is passed on with its Retry-After", async () => {
      const { user, token } = await h.signedUp();
      h.clerk.rateLimit = { limit: 0, windowMs: 10_000 };
      try {
        const res = await h.sync(token);
        assert.equal(res.status, 429);
        assert.equal((await res.json()).error, "clerk_rate_limited");
        const seconds = Number(res.headers.get("retry-after"));
        assert.ok(seconds >= 1 && seconds <= 10, `Retry-After ${seconds}`);
        assert.equal(await readUser(h.sql, user.id), undefined);
      } finally {
        h.clerk.rateLimit = undefined;
      }
    });
  });
});

Deno.test("browsers get a CORS grant only from the allowed origins", async (t) => {
  await withHarness(
    { CORS_ALLOWED_ORIGINS: `${APP_ORIGIN} https://admin.acme.test` },
    async (h) => {
      const preflight = (origin: string) =>
        h.app.handler(
          new Request("http://localhost/functions/v1/clerk-events/users/me/sync", {
            method: "OPTIONS",
            headers: {
              origin,
              "access-control-request-method": "POST",
              "access-control-request-headers": "authorization",
            },
          }),
        );
      await t.step("a preflight from an allowed origin is answered", async () => {
        const res = await preflight("https://admin.acme.test");
        assert.equal(res.status, 204);
        assert.equal(res.headers.get("access-control-allow-origin"), "https://admin.acme.test");
        assert.match(res.headers.get("access-control-allow-methods") ?? "", /\bPOST\b/);
        assert.match(res.headers.get("access-control-allow-headers") ?? "", /\bauthorization\b/);
        assert.match(res.headers.get("vary") ?? "", /Origin/);
      });
      await t.step("a preflight from another origin gets no grant", async () => {
        const res = await preflight("https://evil.test");
        assert.equal(res.headers.get("access-control-allow-origin"), null);
        assert.equal(res.headers.get("access-control-allow-methods"), null);
      });
      await t.step("a POST from another origin is refused before any work", async () => {
        const { user, token } = await h.signedUp();
        const res = await h.sync(token, { origin: "https://evil.test" });
        assert.equal(res.status, 403);
        assert.equal(res.headers.get("access-control-allow-origin"), null);
        assert.equal(await readUser(h.sql, user.id), undefined);
      });
      await t.step("a server-side call without Origin needs no grant", async () => {
        const { token } = await h.signedUp();
        const res = await h.app.handler(
          new Request("http://localhost/clerk-events/users/me/sync", {
            method: "POST",
            headers: { authorization: `Bearer ${token}` },
          }),
        );
        assert.equal(res.status, 200);
        assert.equal(res.headers.get("access-control-allow-origin"), null);
      });
      await t.step("other methods get 405", async () => {
        const res = await h.app.handler(new Request("http://localhost/clerk-events/users/me/sync"));
        assert.equal(res.status, 405);
        assert.equal(res.headers.get("allow"), "POST, OPTIONS");
      });
    },
  );
});

Deno.test("a burst of tokens with unknown key ids does not multiply JWKS fetches", async () => {
  await withHarness({}, async (h) => {
    const { token } = await h.signedUp();
    assert.equal((await h.sync(token)).status, 200);
    assert.equal(h.jwksRequests(), 1);
    for (let i = 0; i < 5; i++) {
      const forged = await mintSessionToken(other, { sub: newUserId(), kid: `ins_unknown${i}` });
      assert.equal((await h.sync(forged)).status, 401);
    }
    // jose refreshes on an unknown kid at most once per 30 s cooldown.
    assert.ok(h.jwksRequests() <= 2, `${h.jwksRequests()} JWKS requests`);
  });
});

Deno.test("the route answers 503 while what it needs is missing or unreachable", async (t) => {
  await t.step("without CLERK_SECRET_KEY", async () => {
    await withHarness({ CLERK_SECRET_KEY: undefined }, async (h) => {
      const { token } = await h.signedUp();
      const res = await h.sync(token);
      assert.equal(res.status, 503);
      assert.match((await res.json()).message, /CLERK_SECRET_KEY/);
    });
  });
  await t.step("with an invalid CLERK_JWT_KEY", async () => {
    await withHarness({ CLERK_JWT_KEY: "not a key" }, async (h) => {
      const res = await h.sync(await mintSessionToken(acme, { sub: newUserId() }));
      assert.equal(res.status, 503);
      assert.match((await res.json()).message, /CLERK_JWT_KEY/);
    });
  });
  await t.step("when Clerk refuses our key for the JWKS: 503, not 401", async () => {
    await withHarness({ CLERK_SECRET_KEY: "sk_test_wrong" }, async (h) => {
      const res = await h.sync(await mintSessionToken(acme, { sub: newUserId() }));
      assert.equal(res.status, 503);
      assert.equal((await res.json()).error, "verification_unavailable");
    });
  });
  await t.step("when Clerk refuses our key for the user: 503", async () => {
    await withHarness(
      { CLERK_SECRET_KEY: "sk_test_wrong", CLERK_JWT_KEY: acme.publicKeyPem },
      async (h) => {
        const { user, token } = await h.signedUp();
        const res = await h.sync(token);
        assert.equal(res.status, 503);
        assert.equal(await readUser(h.sql, user.id), undefined);
      },
    );
  });
});
