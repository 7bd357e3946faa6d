import assert from "node:assert/strict";
import {
  ClerkApiError,
  ClerkConfigurationError,
  ClerkRateLimitError,
  createClerkBackendApi,
} from "../functions/clerk/backend_api.ts";
import { createRequestLimiter } from "../functions/clerk/request_budget.ts";
import { parseClerkApi } from "../functions/settings/clerk_api.ts";
import { clerkUser, startClerkApi, TEST_CLERK_SECRET_KEY } from "./support/clerk_api.ts";
import { manualClock } from "./support/manual_clock.ts";

async function withClerkApi(fn: (api: ReturnType<typeof startClerkApi>) => Promise<void>) {
  const api = startClerkApi();
  try {
    await fn(api);
  } finally {
    await api.close();
  }
}

function clientFor(api: { url: string }, secretKey = TEST_CLERK_SECRET_KEY) {
  return createClerkBackendApi({ apiUrl: api.url, secretKey });
}

Deno.test("the Backend API client reads users the way Clerk serves them", async (t) => {
  await withClerkApi(async (api) => {
    const users = [3, 1, 2].map((n) => clerkUser({ createdAt: 1_700_000_000_000 + n }));
    for (const user of users) api.putUser(user);
    const client = clientFor(api);

    await t.step("pages through users oldest first with limit and offset", async () => {
      const first = await client.listUsers({ limit: 2, offset: 0, orderBy: "+created_at" });
      const second = await client.listUsers({ limit: 2, offset: 2, orderBy: "+created_at" });
      const byAge = [...users].sort((a, b) => a.created_at - b.created_at).map((u) => u.id);
      assert.deepEqual([...first, ...second].map((u) => u.id), byAge);
      assert.deepEqual(
        api.accepted().map((r) => r.query),
        [
          { limit: "2", offset: "0", order_by: "+created_at" },
          { limit: "2", offset: "2", order_by: "+created_at" },
        ],
      );
    });

    await t.step("accepts users with fields the schema does not list", async () => {
      const newest = users.reduce((a, b) => (a.created_at > b.created_at ? a : b));
      assert.ok("public_metadata" in newest && "passkeys" in newest, "the stand-in sends them");
      const [user] = await client.listUsers({ limit: 1, offset: 0, orderBy: "-created_at" });
      assert.equal(user.id, newest.id);
      assert.equal(user.primary_email_address_id, newest.primary_email_address_id);
      assert.deepEqual(
        user.email_addresses.map((a) => a.id),
        (newest.email_addresses as { id: string }[]).map((a) => a.id),
      );
    });

    await t.step("a user missing a field the schema needs is an error", async () => {
      const broken = clerkUser();
      delete (broken as Record<string, unknown>).email_addresses;
      api.putUser({ ...broken, created_at: 1 });
      try {
        const error = await client.listUsers({ limit: 1, offset: 0, orderBy: "+created_at" })
          .then(() => undefined, (e) => e);
        assert.ok(error instanceof ClerkApiError && error.permanent, String(error));
        assert.match(error.message, /user 0: not a Clerk user \(email_addresses: /);
      } finally {
        api.deleteUser(broken.id);
      }
    });

    await t.step("getUser answers the user, and null once Clerk deleted it", async () => {
      const id = users[0].id;
      assert.equal((await client.getUser(id))?.id, id);
      api.deleteUser(id);
      assert.equal(await client.getUser(id), null);
    });

    await t.step(
      "a wrong key is a configuration error, read as auth, that never shows the key",
      async () => {
        const wrongKey = "sk_test_wrong_key_0123456789";
        const error = await clientFor(api, wrongKey)
          .listUsers({ limit: 1, offset: 0, orderBy: "+created_at" })
          .then(() => undefined, (e) => e);
        assert.ok(error instanceof ClerkConfigurationError, String(error));
        assert.equal(error.status, 401);
        // Retried after a long wait, like every provider's 401: a rotation may be under way.
        assert.equal(error.kind, "auth");
        assert.equal(error.permanent, false);
        assert.match(error.message, /^Cannot list Clerk users at offset 0: Clerk answered 401/);
        assert.match(error.message, /CLERK_SECRET_KEY/);
        assert.ok(!error.message.includes(wrongKey));
      },
    );

    await t.step("past the rate limit, a 429 carries Retry-After in seconds", async () => {
      api.rateLimit = { limit: 1, windowMs: 5_000 };
      try {
        await client.getUser(users[1].id).catch(() => {}); // uses the window's one request
        const error = await client.getUser(users[1].id).then(() => undefined, (e) => e);
        assert.ok(error instanceof ClerkRateLimitError, String(error));
        assert.ok(error.retryAfterSeconds >= 1 && error.retryAfterSeconds <= 5);
        assert.equal(error.permanent, false);
      } finally {
        api.rateLimit = undefined;
      }
    });

    await t.step("a limit over 500 is refused before any request", async () => {
      const before = api.requests.length;
      await assert.rejects(
        client.listUsers({ limit: 501, offset: 0, orderBy: "+created_at" }),
        RangeError,
      );
      assert.equal(api.requests.length, before);
    });
  });
});

Deno.test("the Backend API client tells retriable failures from permanent ones", async (t) => {
  const answering = (res: () => Response) =>
    createClerkBackendApi({
      apiUrl: "http://clerk.invalid",
      secretKey: TEST_CLERK_SECRET_KEY,
      fetch: () => Promise.resolve(res()),
    });

  await t.step("a 5xx is retriable", async () => {
    const error = await answering(() => new Response("bad gateway", { status: 502 }))
      .getUser("user_1").then(() => undefined, (e) => e);
    assert.ok(error instanceof ClerkApiError && !error.permanent, String(error));
    assert.equal(error.status, 502);
  });

  await t.step("a network failure is retriable", async () => {
    const client = createClerkBackendApi({
      apiUrl: "http://clerk.invalid",
      secretKey: TEST_CLERK_SECRET_KEY,
      fetch: () => Promise.reject(new TypeError("connection refused")),
    });
    const error = await client.getUser("user_1").then(() => undefined, (e) => e);
    assert.ok(error instanceof ClerkApiError && !error.permanent, String(error));
    assert.match(error.message, /^Cannot get Clerk user "user_1": connection refused/);
  });

  await t.step("a 403 is a configuration error", async () => {
    const error = await answering(() =>
      Response.json({ errors: [{ code: "authorization_invalid" }] }, { status: 403 })
    ).getUser("user_1").then(() => undefined, (e) => e);
    assert.ok(error instanceof ClerkConfigurationError, String(error));
    assert.equal(error.kind, "auth");
  });

  await t.step("a 404 that is not resource_not_found is an error, not a deletion", async () => {
    const error = await answering(() => new Response("no route", { status: 404 }))
      .getUser("user_1").then(() => undefined, (e) => e);
    assert.ok(error instanceof ClerkApiError, String(error));
  });

  await t.step("a page that is not an array is an error", async () => {
    const error = await answering(() => Response.json({ data: [], total_count: 0 }))
      .listUsers({ limit: 10, offset: 0, orderBy: "+created_at" })
      .then(() => undefined, (e) => e);
    assert.ok(error instanceof ClerkApiError, String(error));
    assert.match(error.message, /expected a JSON array/);
  });

  await t.step("sends the key only in the Authorization header", async () => {
    const seen: Request[] = [];
    const client = createClerkBackendApi({
      apiUrl: "https://api.clerk.test/",
      secretKey: TEST_CLERK_SECRET_KEY,
      fetch: (input, init) => {
        seen.push(new Request(input, init));
        return Promise.resolve(Response.json([]));
      },
    });
    await client.listUsers({ limit: 500, offset: 1000, orderBy: "+created_at" });
    assert.equal(
      seen[0].url,
      "https://api.clerk.test/v1/users?limit=500&offset=1000&order_by=%2Bcreated_at",
    );
    assert.equal(seen[0].headers.get("authorization"), `Bearer ${TEST_CLERK_SECRET_KEY}`);
  });
});

Deno.test("the Clerk stand-in refuses what Clerk refuses", async (t) => {
  await withClerkApi(async (api) => {
    const get = async (path: string, key = TEST_CLERK_SECRET_KEY) => {
      const res = await fetch(`${api.url}${path}`, { headers: { authorization: `Bearer ${key}` } });
      return { status: res.status, body: await res.json() };
    };
    await t.step("limit outside 1 to 500 is a 422", async () => {
      assert.equal((await get("/v1/users?limit=0")).status, 422);
      assert.equal((await get("/v1/users?limit=501")).status, 422);
      assert.equal((await get("/v1/users?limit=500")).status, 200);
    });
    await t.step("an unknown order is a 422", async () => {
      assert.equal((await get("/v1/users?order_by=+shoe_size")).status, 422);
    });
    await t.step("a wrong key is a 401", async () => {
      const { status, body } = await get("/v1/users", "sk_test_nope");
      assert.equal(status, 401);
      assert.equal(body.errors[0].code, "authentication_invalid");
    });
  });
});

Deno.test("the request limiter keeps to its budget", async () => {
  const clock = manualClock();
  const limiter = createRequestLimiter({
    limit: 3,
    periodMs: 10_000,
    backgroundMaxWaitMs: 60_000,
    clock,
  });
  const startedAt: number[] = [];
  const all = Array.from(
    { length: 7 },
    () => limiter.acquire().then(() => startedAt.push(clock.now())),
  );
  await clock.advance(60_000);
  await Promise.all(all);
  assert.equal(startedAt.length, 7);
  // No window of 10 s holds more than 3 starts.
  for (const start of startedAt) {
    assert.ok(startedAt.filter((t) => t >= start && t < start + 10_000).length <= 3);
  }
  assert.ok(startedAt.at(-1)! > 0, "it waited");
});

Deno.test("the Clerk API settings", async (t) => {
  await t.step("default to api.clerk.com, 03:00 UTC and half a dev instance's limit", () => {
    const group = parseClerkApi({ CLERK_SECRET_KEY: TEST_CLERK_SECRET_KEY });
    assert.ok(group.ok);
    assert.equal(group.value.apiUrl, "https://api.clerk.com");
    assert.equal(group.value.reconcileCron, "TZ=UTC 0 3 * * *");
    assert.deepEqual(group.value.requestBudget, { limit: 50, periodMs: 10_000 });
  });

  await t.step("off disables the schedule", () => {
    const group = parseClerkApi({
      CLERK_SECRET_KEY: TEST_CLERK_SECRET_KEY,
      CLERK_RECONCILE_CRON: "off",
    });
    assert.ok(group.ok);
    assert.equal(group.value.reconcileCron, undefined);
  });

  await t.step("a missing key disables reconciliation, saying so", () => {
    const group = parseClerkApi({});
    assert.ok(!group.ok);
    assert.match(group.problems[0], /^CLERK_SECRET_KEY is missing: reconciliation .* disabled/);
  });

  await t.step("invalid values are named, never echoed", () => {
    const group = parseClerkApi({
      CLERK_SECRET_KEY: "pk_test_publishable",
      CLERK_API_URL: "api.clerk.com",
      CLERK_RECONCILE_CRON: "every night",
      CLERK_API_REQUEST_BUDGET: "lots",
    });
    assert.ok(!group.ok);
    assert.deepEqual(
      group.problems.map((p) => p.split(" ")[0]),
      ["CLERK_SECRET_KEY", "CLERK_API_URL", "CLERK_RECONCILE_CRON", "CLERK_API_REQUEST_BUDGET"],
    );
    const text = group.problems.join(" ");
    for (const value of ["pk_test_publishable", "every night", "lots"]) {
      assert.ok(!text.includes(value), value);
    }
  });

  await t.step("a budget takes requests per period", () => {
    const group = parseClerkApi({
      CLERK_SECRET_KEY: TEST_CLERK_SECRET_KEY,
      CLERK_API_REQUEST_BUDGET: "500/10s",
    });
    assert.ok(group.ok);
    assert.deepEqual(group.value.requestBudget, { limit: 500, periodMs: 10_000 });
  });
});
