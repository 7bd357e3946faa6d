import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { Webhook } from "svix";
import { createApp } from "../functions/app.ts";
import { buildClerkPayload, CLERK_EVENT_TYPES, signDelivery } from "../scripts/clerk_payloads.ts";
import {
  clerkDeletedUserSchema,
  clerkEnvelopeSchema,
  clerkUserSchema,
} from "../functions/clerk/schemas.ts";
import { OTHER_SECRET, TEST_SECRET } from "./support/clerk.ts";
import { captureLogs, testEnv } from "./support/env.ts";
import { startEventApi } from "./support/event_api.ts";

const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));

interface Delivery {
  id: string;
  body: string;
  headers: Record<string, string>;
}

/** A local webhook receiver that records each delivery and answers `status`. */
function startReceiver(status = 200) {
  const deliveries: Delivery[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const body = await req.text();
    deliveries.push({
      id: req.headers.get("svix-id") ?? "",
      body,
      headers: Object.fromEntries(req.headers),
    });
    return Response.json({ status: status < 300 ? "accepted" : "failed" }, { status });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/functions/v1/clerk-events/webhook`,
    deliveries,
    close: () => server.shutdown(),
  };
}

/** Runs `deno task webhook:send` against a server answering every request with `answer()`. */
async function sendTo(answer: () => Response) {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, answer);
  try {
    return await runSender([
      "--url",
      `http://127.0.0.1:${server.addr.port}/functions/v1/clerk-events/webhook`,
      "--secret",
      TEST_SECRET,
    ]);
  } finally {
    await server.shutdown();
  }
}

/** Runs `deno task webhook:send` with `args`, reading no `.env` file. */
async function runSender(args: string[], env: Record<string, string> = {}) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "scripts/webhook_send.ts",
      ...args,
    ],
    cwd: REPO_ROOT,
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** Verifies a recorded delivery with svix (it throws if the signature is wrong), then parses it. */
function verify(delivery: Delivery, secret = TEST_SECRET): Record<string, unknown> {
  new Webhook(secret).verify(delivery.body, delivery.headers);
  return JSON.parse(delivery.body);
}

Deno.test("the sender module builds Clerk payloads that svix and the app accept", async (t) => {
  for (const type of CLERK_EVENT_TYPES) {
    await t.step(`a signed ${type} payload verifies with svix's Webhook.verify`, () => {
      const body = JSON.stringify(buildClerkPayload(type));
      const headers = signDelivery(body, TEST_SECRET, { id: "msg_fixed" });
      assert.equal(headers["svix-id"], "msg_fixed");
      assert.doesNotThrow(() => new Webhook(TEST_SECRET).verify(body, { ...headers }));
    });
  }

  await t.step("a changed body or another secret fails verification", () => {
    const body = JSON.stringify(buildClerkPayload("user.created"));
    const headers = { ...signDelivery(body, TEST_SECRET) };
    assert.throws(() => new Webhook(TEST_SECRET).verify(body.replace("Ada", "Eve"), headers));
    assert.throws(() => new Webhook(OTHER_SECRET).verify(body, headers));
  });

  await t.step("the timestamp header is the signing time in seconds", () => {
    const at = new Date("2025-01-02T03:04:05.678Z");
    const headers = signDelivery("{}", TEST_SECRET, { at });
    assert.equal(headers["svix-timestamp"], String(Math.floor(at.getTime() / 1000)));
  });

  await t.step("user payloads have the shape the app's schemas read", () => {
    const at = new Date("2025-01-02T03:04:05.678Z");
    for (const type of ["user.created", "user.updated"] as const) {
      const payload = buildClerkPayload(type, { userId: "user_given", at });
      clerkEnvelopeSchema.parse(payload);
      const user = clerkUserSchema.parse(payload.data);
      assert.equal(user.id, "user_given");
      assert.equal(user.updated_at, at.getTime());
      assert.equal(payload.timestamp, at.getTime());
      const primary = user.email_addresses.find((e) => e.id === user.primary_email_address_id);
      assert.ok(primary, "the primary address is one of email_addresses");
      assert.match(primary.email_address, /@example\.com$/);
      assert.ok(user.email_addresses.length > 1, "the primary address is not simply the first");
    }
    const deleted = buildClerkPayload("user.deleted", { userId: "user_gone" });
    assert.deepEqual(clerkDeletedUserSchema.parse(deleted.data).id, "user_gone");
  });

  await t.step("every built-in payload has a new user id and address unless one is given", () => {
    const [a, b] = [buildClerkPayload("user.created"), buildClerkPayload("user.created")];
    assert.notEqual(a.data.id, b.data.id);
    assert.notDeepEqual(a.data.email_addresses, b.data.email_addresses);
    assert.match(String(a.data.id), /^user_[0-9A-Za-z]{27}$/);
  });

  await t.step("data overrides are merged over the built-in data", () => {
    const payload = buildClerkPayload("user.updated", { data: { first_name: null, extra: 1 } });
    assert.equal(payload.data.first_name, null);
    assert.equal(payload.data.extra, 1);
    assert.equal(payload.data.last_name, "Lovelace");
  });

  await t.step("a bad secret is a TypeError that does not repeat the secret", () => {
    assert.throws(() => signDelivery("{}", "whsec_!!not base64!!"), (error: Error) => {
      assert.ok(error instanceof TypeError);
      assert.match(error.message, /^Cannot sign webhook: /);
      assert.doesNotMatch(error.message, /not base64/);
      return true;
    });
  });

  for (const type of CLERK_EVENT_TYPES) {
    await t.step(`the app forwards a sender-signed ${type} to Inngest`, async () => {
      const api = startEventApi();
      try {
        const app = createApp(testEnv({ INNGEST_EVENT_API_BASE_URL: api.url }), {
          logger: captureLogs().logger,
        });
        const body = JSON.stringify(buildClerkPayload(type));
        const headers = signDelivery(body, TEST_SECRET);
        const res = await app.handler(
          new Request("http://localhost/clerk-events/webhook", {
            method: "POST",
            headers: { "content-type": "application/json", ...headers },
            body,
          }),
        );
        assert.equal(res.status, 200, await res.clone().text());
        await res.body?.cancel();
        assert.deepEqual(api.accepted.map((e) => [e.id, e.name]), [
          [headers["svix-id"], `clerk/${type}`],
        ]);
      } finally {
        await api.close();
      }
    });
  }
});

Deno.test("webhook:send posts signed deliveries and reports them", async (t) => {
  await t.step("one delivery: the receiver can verify it, and the id is printed", async () => {
    const receiver = startReceiver();
    try {
      const result = await runSender(["--url", receiver.url, "--secret", TEST_SECRET]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(receiver.deliveries.length, 1);
      const [delivery] = receiver.deliveries;
      assert.equal(verify(delivery).type, "user.created");
      assert.match(result.stdout, new RegExp(`^200 ${delivery.id} `, "m"));
      assert.ok(!(result.stdout + result.stderr).includes(TEST_SECRET), "the secret is not shown");
    } finally {
      await receiver.close();
    }
  });

  await t.step("--count 3 --duplicate sends one svix-id three times", async () => {
    const receiver = startReceiver();
    try {
      const result = await runSender([
        "--url",
        receiver.url,
        "--secret",
        TEST_SECRET,
        "--count",
        "3",
        "--duplicate",
      ]);
      assert.equal(result.code, 0, result.stderr);
      const ids = receiver.deliveries.map((d) => d.id);
      assert.equal(ids.length, 3);
      assert.equal(new Set(ids).size, 1, `ids: ${ids.join(", ")}`);
      assert.match(ids[0], /^msg_/);
      assert.equal(new Set(receiver.deliveries.map((d) => d.body)).size, 1, "same body");
      for (const delivery of receiver.deliveries) verify(delivery);
      assert.match(result.stdout, /sent 3 deliveries .*requests\/s\): 2xx 3, other 0/);
      assert.ok(result.stdout.includes(ids[0]));
    } finally {
      await receiver.close();
    }
  });

  await t.step("--count 3 without --duplicate sends three ids and three users", async () => {
    const receiver = startReceiver();
    try {
      const result = await runSender([
        "--url",
        receiver.url,
        "--secret",
        TEST_SECRET,
        "--count",
        "3",
        "--type",
        "user.updated",
      ]);
      assert.equal(result.code, 0, result.stderr);
      const ids = receiver.deliveries.map((d) => d.id);
      assert.equal(new Set(ids).size, 3, `ids: ${ids.join(", ")}`);
      const payloads = receiver.deliveries.map((d) => verify(d));
      assert.ok(payloads.every((p) => p.type === "user.updated"));
      const users = payloads.map((p) => (p.data as { id: string }).id);
      assert.equal(new Set(users).size, 3);
      for (const id of ids) assert.ok(result.stdout.includes(id), `${id} is printed`);
    } finally {
      await receiver.close();
    }
  });

  await t.step("--user-id and --file choose the payload", async () => {
    const receiver = startReceiver();
    const dir = await Deno.makeTempDir();
    try {
      const file = `${dir}/payload.json`;
      await Deno.writeTextFile(
        file,
        JSON.stringify(buildClerkPayload("user.deleted", { userId: "user_from_file" })),
      );
      const fromFile = await runSender([
        "--url",
        receiver.url,
        "--secret",
        TEST_SECRET,
        "--file",
        file,
      ]);
      assert.equal(fromFile.code, 0, fromFile.stderr);
      const overridden = await runSender([
        "--url",
        receiver.url,
        "--secret",
        TEST_SECRET,
        "--file",
        file,
        "--user-id",
        "user_override",
      ]);
      assert.equal(overridden.code, 0, overridden.stderr);
      const repeated = await runSender([
        "--url",
        receiver.url,
        "--secret",
        TEST_SECRET,
        "--user-id",
        "user_same",
        "--count",
        "2",
      ]);
      assert.equal(repeated.code, 0, repeated.stderr);
      const users = receiver.deliveries.map((d) => (verify(d).data as { id: string }).id);
      assert.deepEqual(users, ["user_from_file", "user_override", "user_same", "user_same"]);
    } finally {
      await receiver.close();
      await Deno.remove(dir, { recursive: true });
    }
  });

  await t.step("the secret comes from the environment, the first of several", async () => {
    const receiver = startReceiver();
    try {
      const result = await runSender(["--url", receiver.url], {
        CLERK_WEBHOOK_SIGNING_SECRET: `${OTHER_SECRET} ${TEST_SECRET}`,
      });
      assert.equal(result.code, 0, result.stderr);
      verify(receiver.deliveries[0], OTHER_SECRET);
      assert.ok(!(result.stdout + result.stderr).includes(OTHER_SECRET));
    } finally {
      await receiver.close();
    }
  });

  await t.step("a non-2xx answer gives a non-zero exit code", async () => {
    for (const args of [[], ["--count", "2"]]) {
      const receiver = startReceiver(503);
      try {
        const result = await runSender(["--url", receiver.url, "--secret", TEST_SECRET, ...args]);
        assert.equal(result.code, 1, result.stdout);
        assert.equal(receiver.deliveries.length, args.length ? 2 : 1);
        assert.match(result.stdout, new RegExp(`503 ${receiver.deliveries[0].id}`));
      } finally {
        await receiver.close();
      }
    }
  });

  await t.step("no answer at all gives a non-zero exit code", async () => {
    const receiver = startReceiver();
    const url = receiver.url;
    await receiver.close();
    const result = await runSender(["--url", url, "--secret", TEST_SECRET]);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /^no answer msg_/m);
    assert.match(
      result.stderr,
      /^The function is not running at http:\/\/127\.0\.0\.1:\d+: start it with deno task dev/m,
    );
  });

  await t.step(
    "a function that could not reach Inngest is told apart from a down function",
    async () => {
      const message = "Could not reach Inngest at http://localhost:8288: start it: npx ...";
      const result = await sendTo(() =>
        Response.json({ error: "inngest_unreachable", message }, { status: 502 })
      );
      assert.equal(result.code, 1);
      assert.ok(
        result.stderr.includes(`The function is up, but Inngest is not: ${message}`),
        result.stderr,
      );
    },
  );

  await t.step("bad options exit with 2 and say what is wrong", async () => {
    const cases: [string[], RegExp][] = [
      [["--type", "user.banned"], /^Cannot send webhook: --type must be one of/],
      [["--count", "0"], /^Cannot send webhook: --count must be a whole number/],
      [["--bogus"], /^Cannot send webhook: /],
      // Without .env (the test runs in the repository, which has none, or one
      // without the variable): the hint names the file either way.
      [[], /^Cannot send webhook: no secret; .*\.env.*--secret whsec_/],
      [
        ["--secret", "notawhsec"],
        /^Cannot send webhook: --secret is not a Svix signing secret: it must be whsec_/,
      ],
    ];
    for (const [args, message] of cases) {
      const secret = args.length && args[0] !== "--secret" ? ["--secret", TEST_SECRET] : [];
      const result = await runSender([...secret, ...args]);
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, message);
      assert.ok(!result.stderr.includes("notawhsec"), "the secret given is not echoed");
    }
  });

  await t.step("a 401 says which secret signed, and that the function checks its own", async () => {
    const receiver = startReceiver(401);
    try {
      const result = await runSender(["--url", receiver.url], {
        CLERK_WEBHOOK_SIGNING_SECRET: OTHER_SECRET,
      });
      assert.equal(result.code, 1);
      assert.match(result.stdout, /^401 msg_/m);
      assert.match(
        result.stderr,
        /refused the signature \(401\): it checks with its own CLERK_WEBHOOK_SIGNING_SECRET, and these deliveries were signed with CLERK_WEBHOOK_SIGNING_SECRET \(from the shell or \.env\)/,
      );
      assert.match(result.stderr, /restart it after changing the file/);
    } finally {
      await receiver.close();
    }
  });

  await t.step("another server's HTML page is summed up in one line, not printed", async () => {
    const page = `<!doctype html><html><head><title>Welcome to nginx!</title></head><body>${
      "<p>filler</p>".repeat(200)
    }</body></html>`;
    for (const status of [404, 200]) {
      const result = await sendTo(() =>
        new Response(page, { status, headers: { "content-type": "text/html" } })
      );
      assert.equal(result.code, 1, `a ${status} page is not a delivery`);
      assert.match(
        result.stdout,
        new RegExp(
          `^${status} msg_\\w+ \\(\\d+ ms\\): an HTML page of ${page.length} characters, ` +
            `titled "Welcome to nginx!", not the function's JSON$`,
          "m",
        ),
      );
      assert.ok(!result.stdout.includes("filler"), "the page itself is not printed");
      assert.match(result.stderr, /Something other than clerk-events answers at http:/);
    }
  });

  await t.step("--help prints the usage and sends nothing", async () => {
    const result = await runSender(["--help"]);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /^Usage: deno task webhook:send/);
    assert.match(result.stdout, /--duplicate/);
  });
});
