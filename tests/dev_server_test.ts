import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { SETTING_NAMES } from "../functions/settings.ts";
import { newMessageId, signedRequest, TEST_SECRET } from "./support/clerk.ts";
import { TEST_SERVICE_KEY, TEST_SIGNING_KEY, testEnv } from "./support/env.ts";
import { startEventApi } from "./support/event_api.ts";
import { connect } from "./support/database.ts";
import { startPostgrest } from "./support/postgrest.ts";
import { freePort, spawnCapturing } from "./support/process.ts";

const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));
const STARTUP_TIMEOUT_MS = 20_000;
const BANNER_END = "Press Ctrl+C to stop.";

/** The `deno task dev` command line from deno.json, run with this test's deno. */
async function devCommand(): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(`${REPO_ROOT}/deno.json`));
  const [deno, ...args] = String(config.tasks.dev).split(/\s+/);
  assert.equal(deno, "deno");
  return args;
}

/** The environment of this process without any of the app's settings. */
function baseEnv(): Record<string, string> {
  const names = new Set<string>([...SETTING_NAMES, "PORT", "CLERK_EVENTS_ENV_FILE"]);
  return Object.fromEntries(
    Object.entries(Deno.env.toObject()).filter(([name]) => !names.has(name)),
  );
}

interface DevServer {
  readonly origin: string;
  /** Everything the server wrote to stdout and stderr so far. */
  output(): string;
  /** Sends `signal` and waits for the exit; kills it if it does not stop in time. */
  stop(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
}

/**
 * Starts `deno task dev` with exactly `settings` (and no `.env` file: an
 * empty CLERK_EVENTS_ENV_FILE) and waits until the health route answers.
 */
async function startDevServer(settings: Record<string, string | undefined>): Promise<DevServer> {
  const port = freePort();
  const env: Record<string, string> = { ...baseEnv(), NO_COLOR: "1" };
  for (const [name, value] of Object.entries(settings)) if (value !== undefined) env[name] = value;
  Object.assign(env, { PORT: String(port), CLERK_EVENTS_ENV_FILE: "" });

  const child = spawnCapturing(
    new Deno.Command(Deno.execPath(), {
      args: await devCommand(),
      cwd: REPO_ROOT,
      clearEnv: true,
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }),
  );
  const server: DevServer = {
    origin: `http://127.0.0.1:${port}`,
    output: child.output,
    stop: child.stop,
  };

  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  while (true) {
    try {
      const res = await fetch(`${server.origin}/functions/v1/clerk-events/health`);
      await res.body?.cancel();
      // The banner is printed before the first answer, but may still be in the pipe.
      if (child.output().includes(BANNER_END)) return server;
      throw new Error("The banner is not there yet");
    } catch {
      if (child.exited() || Date.now() > deadline) {
        await server.stop("SIGKILL");
        throw new Error(
          `Cannot start the dev server: no answer on ${server.origin}\n${child.output()}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

Deno.test("deno task dev serves the function locally until it is stopped", async (t) => {
  const api = startEventApi();
  const sql = await connect();
  const postgrest = startPostgrest(sql);
  let server: DevServer | undefined;
  try {
    server = await startDevServer(testEnv({
      INNGEST_EVENT_API_BASE_URL: api.url,
      SUPABASE_URL: postgrest.url,
      SUPABASE_SERVICE_ROLE_KEY: postgrest.serviceKey,
    }));
    const { origin } = server;

    await t.step("health answers 200 under /functions/v1 and names settings only", async () => {
      const res = await fetch(`${origin}/functions/v1/clerk-events/health`);
      const text = await res.text();
      assert.equal(res.status, 200, text);
      const body = JSON.parse(text);
      assert.equal(body.status, "ok");
      assert.equal(body.mode, "cloud");
      assert.equal(body.database, "reachable");
      assert.equal(body.settings.CLERK_WEBHOOK_SIGNING_SECRET, "present");
      for (const secret of [TEST_SECRET, TEST_SIGNING_KEY, TEST_SERVICE_KEY]) {
        assert.ok(!text.includes(secret), "no setting's value is shown");
      }
    });

    await t.step(
      "a signed webhook is answered 200 and reaches Inngest with its svix-id",
      async () => {
        const id = newMessageId();
        const req = signedRequest(
          JSON.stringify({
            type: "user.created",
            object: "event",
            timestamp: Date.now(),
            data: {
              id: "user_dev_server_test",
              email_addresses: [{ id: "idn_1", email_address: "dev@example.com" }],
              primary_email_address_id: "idn_1",
              first_name: "Dev",
              last_name: null,
              created_at: Date.now(),
              updated_at: Date.now(),
            },
          }),
          { id, secret: TEST_SECRET, url: `${origin}/functions/v1/clerk-events/webhook` },
        );
        const res = await fetch(req);
        const text = await res.text();
        assert.equal(res.status, 200, text);
        assert.equal(JSON.parse(text).id, id);
        assert.deepEqual(api.accepted.map((event) => event.id), [id]);
        assert.equal(api.accepted[0].name, "clerk/user.created");
      },
    );

    await t.step("an unknown path answers 404", async () => {
      const res = await fetch(`${origin}/functions/v1/clerk-events/nope`);
      await res.body?.cancel();
      assert.equal(res.status, 404);
    });

    await t.step("the banner lists the routes, the mode and the Dev Server command", () => {
      const output = server!.output();
      for (const route of ["webhook", "inngest", "health"]) {
        assert.ok(output.includes(`${origin}/functions/v1/clerk-events/${route}`), route);
      }
      assert.match(output, /Inngest mode: cloud/);
      assert.ok(
        output.includes(
          `npx inngest-cli@latest dev -u ${origin}/functions/v1/clerk-events/inngest`,
        ),
      );
      assert.match(output, /CLERK_EVENTS_ENV_FILE is empty: using the process environment only/);
      assert.match(output, /Settings problems: none/);
      for (const secret of [TEST_SECRET, TEST_SIGNING_KEY, TEST_SERVICE_KEY, "test-event-key"]) {
        assert.ok(!output.includes(secret), "no setting's value is printed");
      }
    });

    await t.step("SIGTERM stops it cleanly", async () => {
      const status = await server!.stop("SIGTERM");
      assert.equal(status.code, 0, server!.output());
      assert.match(server!.output(), /Received SIGTERM: stopping the dev server/);
    });
  } finally {
    await server?.stop("SIGKILL");
    await api.close();
    await postgrest.close();
    await sql.end();
  }
});

Deno.test("deno task dev starts with invalid settings and says what is wrong", async () => {
  const server = await startDevServer(
    testEnv({ CLERK_WEBHOOK_SIGNING_SECRET: "not-a-secret", INNGEST_DEV: "1" }),
  );
  try {
    const health = await fetch(`${server.origin}/functions/v1/clerk-events/health`);
    const body = await health.json();
    assert.equal(health.status, 503);
    assert.match(body.problems.join("\n"), /CLERK_WEBHOOK_SIGNING_SECRET must be/);

    const webhook = await fetch(`${server.origin}/functions/v1/clerk-events/webhook`, {
      method: "POST",
      body: "{}",
    });
    await webhook.body?.cancel();
    assert.equal(webhook.status, 503);

    const output = server.output();
    assert.match(output, /Inngest mode: dev/);
    assert.match(output, /- CLERK_WEBHOOK_SIGNING_SECRET must be/);
    assert.ok(!output.includes("not-a-secret"), "the invalid value is not printed");
  } finally {
    const status = await server.stop("SIGINT");
    assert.equal(status.code, 0, server.output());
  }
});
