import assert from "node:assert/strict";
import { BANNER_END } from "../scripts/banner.ts";
import { envFileNote } from "../scripts/env_file.ts";
import { newMessageId, signedRequest, TEST_SECRET } from "./support/clerk.ts";
import {
  captureLogs,
  TEST_HEALTH_TOKEN,
  TEST_SERVICE_KEY,
  TEST_SIGNING_KEY,
  testEnv,
} from "./support/env.ts";
import { createApp } from "../functions/app.ts";
import { startEventApi } from "./support/event_api.ts";
import { connect } from "./support/database.ts";
import { startPostgrest } from "./support/postgrest.ts";
import { freePort, REPO_ROOT, shellEnv, start, taskArgs, waitFor } from "./support/process.ts";

const STARTUP_TIMEOUT_MS = 20_000;

interface DevServer {
  readonly origin: string;
  /** Everything the server wrote to stdout and stderr so far. */
  output(): string;
  /** Sends `signal` and waits for the exit; kills it if it does not stop in time. */
  stop(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
}

/**
 * Starts `deno task dev` with exactly `settings` (and no `.env` file: the
 * task's command line without `--env-file`) and waits for its banner, which it prints
 * once it listens.
 */
async function startDevServer(settings: Record<string, string | undefined>): Promise<DevServer> {
  const port = freePort();
  const env: Record<string, string> = { ...shellEnv(), NO_COLOR: "1" };
  for (const [name, value] of Object.entries(settings)) if (value !== undefined) env[name] = value;
  Object.assign(env, { PORT: String(port) });
  const running = start(Deno.execPath(), await taskArgs("dev"), env);
  try {
    await waitFor(
      () => running.output().includes(BANNER_END) || running.exited(),
      "the banner of deno task dev",
      STARTUP_TIMEOUT_MS,
      running.output,
    );
    if (running.exited()) throw new Error(`Cannot start the dev server:\n${running.output()}`);
  } catch (error) {
    await running.stop("SIGKILL");
    throw error;
  }
  return { origin: `http://127.0.0.1:${port}`, output: running.output, stop: running.stop };
}

Deno.test("deno task dev serves the function locally until it is stopped", async (t) => {
  const api = startEventApi();
  const sql = await connect();
  const postgrest = startPostgrest(sql);
  const envNote = await envFileNote();
  let server: DevServer | undefined;
  try {
    server = await startDevServer(testEnv({
      INNGEST_EVENT_API_BASE_URL: api.url,
      SUPABASE_URL: postgrest.url,
      SUPABASE_SERVICE_ROLE_KEY: postgrest.serviceKey,
    }));
    const { origin } = server;

    await t.step("health answers 200 under /functions/v1 and names settings only", async () => {
      const res = await fetch(`${origin}/functions/v1/clerk-events/health`, {
        headers: { authorization: `Bearer ${TEST_HEALTH_TOKEN}` },
      });
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

    await t.step(
      "an unknown path answers 404, and so does the index outside dev mode",
      async () => {
        for (const path of ["nope", ""]) {
          const res = await fetch(`${origin}/functions/v1/clerk-events/${path}`);
          await res.body?.cancel();
          assert.equal(res.status, 404, `/${path}`);
        }
      },
    );

    await t.step("the banner lists the routes, the mode and how to read /health", () => {
      const output = server!.output();
      for (const route of ["webhook", "inngest", "health"]) {
        assert.ok(output.includes(`${origin}/functions/v1/clerk-events/${route}`), route);
      }
      assert.match(output, /Inngest mode: cloud/);
      assert.ok(
        output.includes(
          `Health details: curl -H "Authorization: Bearer $HEALTH_TOKEN" ${origin}/functions/v1/clerk-events/health`,
        ),
      );
      assert.match(output, /Status: ready \(GET .* answers 200\)/);
      assert.ok(
        output.includes(envNote),
        `the banner says where the settings come from: ${envNote}`,
      );
      assert.match(output, /Required now: nothing missing/);
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
    assert.match(output, /Status: not ready \(GET .* answers 503\)/);
    assert.match(output, /- CLERK_WEBHOOK_SIGNING_SECRET must be/);
    assert.ok(!output.includes("not-a-secret"), "the invalid value is not printed");
  } finally {
    const status = await server.stop("SIGINT");
    assert.equal(status.code, 0, server.output());
  }
});

Deno.test("deno task dev with no settings at all: one readable list of what is missing", async (t) => {
  // What a new clone without .env prints: the shell's environment only.
  const server = await startDevServer({});
  try {
    const output = server.output();
    await t.step("no JSON line of invalid settings before the banner", () => {
      assert.ok(!output.includes('"msg":"Invalid settings"'), output.slice(0, 400));
      assert.match(output.trimStart(), /^clerk-events dev server/);
    });
    await t.step("each missing setting is named once", () => {
      const missing = output.match(/CLERK_WEBHOOK_SIGNING_SECRET is missing/g) ?? [];
      assert.equal(missing.length, 1, output);
      assert.match(output, /^ {2}- SUPABASE_URL is missing$/m);
    });
    await t.step("one label for where the settings come from", () => {
      assert.ok(!output.includes("Environment: Settings:"), output);
      assert.match(output, /^Settings: (no \.env file|\.env)/m);
    });
    await t.step("the route table is aligned, mailchimp-webhook included", () => {
      const rows = output.split("\n").filter((line) => /^ {2}\S+ +[A-Z, ]+ +http:\/\//.test(line));
      const served = createApp({}, { logger: captureLogs().logger }).routes;
      assert.deepEqual(
        rows.map((row) => row.trim().split(/\s+/)[0]),
        served.map((route) => route.path),
        "one row per route the app serves",
      );
      assert.ok(rows.some((row) => row.includes("mailchimp-webhook")));
      assert.equal(new Set(rows.map((row) => row.indexOf("http://"))).size, 1, rows.join("\n"));
      assert.equal(new Set(rows.map((row) => row.search(/ [A-Z]{3,}/))).size, 1, rows.join("\n"));
      assert.ok(
        output.includes(
          `(in dev mode, ${server.origin}/functions/v1/clerk-events/ lists them too)`,
        ),
      );
    });
  } finally {
    const status = await server.stop("SIGINT");
    assert.equal(status.code, 0, server.output());
  }
});

Deno.test("deno task dev on a busy port says which port and how to change it, in one line", async () => {
  const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const env: Record<string, string> = { ...shellEnv(), NO_COLOR: "1" };
    Object.assign(env, { PORT: String(busy.addr.port) });
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: await taskArgs("dev"),
      cwd: REPO_ROOT,
      clearEnv: true,
      env,
      stdin: "null",
    }).output();
    assert.equal(code, 1);
    const lines = (new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr)).trim()
      .split("\n").filter((line) => !line.startsWith("{")); // start-up log lines are JSON
    assert.deepEqual(lines, [
      `Cannot start the dev server: port ${busy.addr.port} is in use; set PORT to a free port, ` +
      `e.g. PORT=${busy.addr.port + 1} deno task dev`,
    ]);
  } finally {
    busy.close();
  }
});
